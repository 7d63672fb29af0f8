"""The openai backend against a real OpenAI-compatible server: llama.cpp serving the bundled
SmolLM2 GGUF on 127.0.0.1 (llama-cpp-python[server], installed by `make test`)."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from tuneline.curation import judge
from tuneline.llm import local_server, make_llm
from tuneline.llm.openai_backend import LLMUnavailable
from tuneline.params import JudgeParams, LLMParams
from tuneline.train.formats import user_chat


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    log = tmp_path_factory.mktemp("llama") / "server.log"
    port = local_server.free_port()
    proc = local_server.start(port, log)
    yield f"http://127.0.0.1:{port}/v1", log
    proc.terminate()
    proc.wait(timeout=30)


def params(url, **kw):
    return LLMParams(backend="openai", base_url=url, model=local_server.MODEL_ALIAS,
                     api_key_env="TUNELINE_TEST_NO_KEY", **kw)


@pytest.mark.slow  # llama.cpp's server
def test_generate_through_a_real_server_counts_tokens(server, tmp_path, monkeypatch):
    monkeypatch.setenv("TUNELINE_CALL_CACHE", str(tmp_path / "calls.sqlite"))
    url, _ = server
    llm = make_llm(params(url, concurrency=2, price_input_per_mtok=0.15, price_output_per_mtok=0.6))
    replies = llm.generate([user_chat("Name a color."), user_chat("What is LoRA?")], max_new_tokens=16)
    assert len(replies) == 2 and all(replies)
    u = llm.usage
    assert u["calls"] == 2 and u["prompt_tokens"] > 0 and 0 < u["completion_tokens"] <= 32
    assert u["cost_usd"] == pytest.approx((u["prompt_tokens"] * 0.15 + u["completion_tokens"] * 0.6) / 1e6)


@pytest.mark.slow  # llama.cpp's server
def test_choice_probabilities_come_from_the_servers_logprobs(server, monkeypatch, tmp_path):
    monkeypatch.setenv("TUNELINE_CALL_CACHE", str(tmp_path / "calls.sqlite"))
    url, _ = server
    llm = make_llm(params(url))
    probs, = llm.choice_probs([user_chat("What is 2 + 2? Reply with just the digit.")], "",
                              ["1", "2", "3", "4", "5"])
    # a probability distribution read from logprobs (the 135M model is unsure), not a parsed digit
    assert 0 < sum(probs) <= 1.0001 and sum(p > 0 for p in probs) >= 2


@pytest.mark.slow  # llama.cpp's server
def test_text_judge_gets_a_score_the_server_enforces_as_json(server, monkeypatch, tmp_path):
    monkeypatch.setenv("TUNELINE_CALL_CACHE", str(tmp_path / "calls.sqlite"))
    url, _ = server
    llm = make_llm(params(url))
    items = [("What does LoRA train?", "Two small low-rank matrices added to frozen weights."),
             ("What does LoRA train?", "Bananas.")]
    verdicts = judge.score(llm, items, JudgeParams(method="text", retries=1))
    for value, said in verdicts:
        assert said.lstrip().startswith("{") and value is not None and 1 <= value <= 5, said


def test_a_server_that_is_down_is_a_clear_error_naming_it():
    url = f"http://127.0.0.1:{local_server.free_port()}/v1"
    llm = make_llm(params(url, max_retries=1, timeout_s=2, cache=False))
    with pytest.raises(LLMUnavailable, match=f"LLM server {url}.*failed after retries"):
        llm.generate([user_chat("hi")], max_new_tokens=4)


@pytest.mark.slow  # llama.cpp's server
def test_kill_9_mid_generation_then_rerun_pays_only_for_missing_calls(server, tmp_path):
    url, log = server
    n = 10
    script = tmp_path / "gen.py"
    script.write_text(textwrap.dedent(f"""
        from tuneline.train.formats import user_chat
        from tuneline.llm import make_llm
        from tuneline.params import LLMParams
        llm = make_llm(LLMParams(backend="openai", base_url={url!r}, model="smollm2-135m-instruct",
                                 api_key_env="TUNELINE_TEST_NO_KEY", concurrency=1))
        out = llm.generate([user_chat(f"Write a sentence about the number {{i}}.") for i in range({n})],
                           max_new_tokens=48, temperature=0.0)
        print("done", llm.usage)
    """))
    env = {**os.environ, "TUNELINE_CALL_CACHE": str(tmp_path / "calls.sqlite")}
    start = local_server.request_count(log)
    proc = subprocess.Popen([sys.executable, str(script)], env=env)
    deadline = time.monotonic() + 120
    while local_server.request_count(log) - start < 4 and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    from tuneline.llm.cache import CallCache

    stored = len(CallCache(tmp_path / "calls.sqlite"))
    assert 3 <= stored < n  # killed mid-run, the finished calls were kept
    before = local_server.request_count(log)
    done = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert local_server.request_count(log) - before == n - stored
    assert f"'calls': {n - stored}," in done.stdout and f"'cached_calls': {stored}," in done.stdout
