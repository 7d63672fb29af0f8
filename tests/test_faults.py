"""LLM server faults through the real openai client: a server that answers slowly, one that
dies in the middle of a run, one whose body is not JSON, and replies that are empty or not a
score. The server is a scripted OpenAI-compatible endpoint: the faults are what it injects.
(The healthy path, a server that is down, and kill -9 of the client run against llama.cpp in
tests/test_llm_openai.py.)
"""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tuneline.curation import generate, judge
from tuneline.llm import make_llm
from tuneline.llm.openai_backend import LLMUnavailable
from tuneline.params import GenerateParams, JudgeParams, LLMParams
from tuneline.records import Chunk, Pair
from tuneline.train.formats import user_chat

# each test starts a scripted HTTP server and sits through the client's timeouts and backoff
pytestmark = pytest.mark.slow


class FaultServer:
    """`/v1/chat/completions` answering from `replies` (cycled), after `delay_s`; after
    `die_after` answers it stops listening; `garbage` sends a body that is not JSON."""

    def __init__(self, replies=("ok",), delay_s=0.0, die_after=None, garbage=False, port=0):
        self.replies, self.delay_s, self.die_after, self.garbage = list(replies), delay_s, die_after, garbage
        self.answered = 0
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                time.sleep(server.delay_s)
                with server.lock:
                    if server.die_after is not None and server.answered >= server.die_after:
                        self.connection.close()  # as if the process had died
                        return
                    reply = server.replies[server.answered % len(server.replies)]
                    server.answered += 1
                body = b"<html>502 Bad Gateway</html>" if server.garbage else json.dumps({
                    "id": "x", "object": "chat.completion", "created": 0, "model": "m",
                    "choices": [{"index": 0, "finish_reason": "stop",
                                 "message": {"role": "assistant", "content": reply}}],
                    "usage": {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8},
                }).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def __enter__(self):
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def llm_for(server, monkeypatch, tmp_path, **kw):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-secret")
    monkeypatch.setenv("TUNELINE_CALL_CACHE", str(tmp_path / "calls.sqlite"))
    base = {"backend": "openai", "base_url": server.url, "model": "m", "concurrency": 2,
            "max_retries": 1, "timeout_s": 5}
    return make_llm(LLMParams(**{**base, **kw}))


def test_a_slow_server_times_out_and_the_error_names_it(monkeypatch, tmp_path):
    with FaultServer(delay_s=3) as server:
        llm = llm_for(server, monkeypatch, tmp_path, timeout_s=0.5, cache=False)
        started = time.monotonic()
        with pytest.raises(LLMUnavailable, match=f"LLM server {server.url}"):
            llm.generate([user_chat("hi")], max_new_tokens=4)
        assert time.monotonic() - started < 15  # 2 attempts of 0.5 s plus backoff, not 3 s each


def test_a_server_dying_mid_run_loses_nothing_it_answered(monkeypatch, tmp_path):
    chats = [user_chat(f"question {i}") for i in range(8)]
    with FaultServer(replies=[f"answer {i}" for i in range(8)], die_after=3) as server:
        llm = llm_for(server, monkeypatch, tmp_path, concurrency=1)
        with pytest.raises(LLMUnavailable, match=f"LLM server {server.url}"):
            llm.generate(chats, max_new_tokens=8)
        answered, port = server.answered, server.httpd.server_address[1]
    assert answered == 3
    with FaultServer(replies=["again"], port=port) as back:  # the server is back
        llm = llm_for(back, monkeypatch, tmp_path, concurrency=1)
        replies = llm.generate(chats, max_new_tokens=8)
    # the 3 answers it gave before dying were kept: only the 5 missing calls are paid again
    assert back.answered == 5 and replies.count("again") == 5


def test_a_body_that_is_not_json_is_an_error_naming_the_server(monkeypatch, tmp_path):
    with FaultServer(garbage=True) as server:
        llm = llm_for(server, monkeypatch, tmp_path, cache=False)
        with pytest.raises(LLMUnavailable, match=f"LLM server {server.url}"):
            llm.generate([user_chat("hi")], max_new_tokens=4)


def test_empty_and_non_numeric_replies_are_quarantined_not_fatal(monkeypatch, tmp_path):
    pairs = [Pair(f"p{i}", "c", "d.md", f"What is item {i}?", "An answer of enough words here.")
             for i in range(4)]
    judge_replies = ["", "seven", "Score: 4", "{\"score\": \"high\"}"]
    with FaultServer(replies=judge_replies) as server:
        llm = llm_for(server, monkeypatch, tmp_path, concurrency=1, cache=False)
        kept, dropped, _ = judge.judge_pairs(pairs, [llm], JudgeParams(method="text", retries=0,
                                                                        min_score=1.0))
    assert [p.pair_id for p in kept] == ["p2"] and kept[0].score == 4
    assert [(d.record["pair_id"], d.reason) for d in dropped] == [
        ("p0", "judge_gave_no_score"), ("p1", "judge_gave_no_score"), ("p3", "judge_gave_no_score")]
    assert [d.detail for d in dropped] == ["", "seven", "{\"score\": \"high\"}"]  # what it said

    with FaultServer(replies=["", "   "]) as server:  # generation that says nothing
        llm = llm_for(server, monkeypatch, tmp_path, concurrency=1, cache=False)
        chunks = [Chunk("c0", "d0", "d.md", "LoRA trains low-rank matrices.")]
        kept, dropped = generate.generate_pairs(chunks, llm, GenerateParams(mode="two_pass",
                                                                             questions_per_chunk=2))
    assert kept == [] and len(dropped) == 2 and all(d.reason for d in dropped)
