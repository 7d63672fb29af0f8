"""Training dispatch, checkpoints and resume, and experiment tracking, on CPU (TRL + PEFT).

The Unsloth backend needs a CUDA GPU; tests/gpu/ runs it on one (see README)."""

import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from tests import tiny
from tuneline import train
from tuneline.params import SFTParams
from tuneline.train.common import last_checkpoint

BASE = "bundled:smollm2-135m-instruct"
ROWS = [{"prompt": [{"role": "user", "content": f"What is step {i} of LoRA training?"}],
         "completion": [{"role": "assistant", "content": f"Step {i} updates the low-rank "
                                                         f"matrices A and B only, {i} times."}]}
        for i in range(8)]


def test_auto_is_trl_without_a_gpu_and_unsloth_says_why_it_cannot_run():
    assert train.backend_for(SFTParams()) == "trl"
    with pytest.raises(RuntimeError, match="needs a CUDA GPU and none is visible"):
        train.backend_for(SFTParams(backend="unsloth"))


def test_a_trl_run_in_a_process_that_imported_unsloth_trains_in_a_fresh_one():
    # Unsloth rewrites TRL's trainers on import and the rewritten ones ignore peft_config
    # (tests/gpu/test_unsloth_gpu.py runs the real case: trl after an Unsloth run)
    assert train.needs_own_process(SFTParams(backend="trl"), {"unsloth": object()})
    assert train.needs_own_process(SFTParams(), {"unsloth": object()})  # auto = trl here
    assert not train.needs_own_process(SFTParams(backend="trl"), {"trl": object()})


def test_qlora_on_the_trl_backend_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="load_in_4bit .* needs the unsloth backend"):
        train.train_sft(BASE, ROWS, SFTParams(load_in_4bit=True, max_steps=1), tmp_path)


def test_run_dir_is_the_same_for_the_same_run_only():
    p = SFTParams(max_steps=3)
    assert train.run_dir("sft", BASE, ROWS, p) == train.run_dir("sft", BASE, ROWS, p)
    assert train.run_dir("sft", BASE, ROWS, p) != train.run_dir("sft", BASE, ROWS[1:], p)
    assert train.run_dir("sft", BASE, ROWS, p) != train.run_dir("sft", BASE, ROWS,
                                                                SFTParams(max_steps=4))


def test_last_checkpoint_ignores_incomplete_ones(tmp_path):
    for n, complete in ((2, True), (4, True), (6, False)):
        (tmp_path / f"checkpoint-{n}").mkdir()
        if complete:
            (tmp_path / f"checkpoint-{n}" / "trainer_state.json").write_text("{}")
    assert last_checkpoint(tmp_path).endswith("checkpoint-4")
    assert last_checkpoint(tmp_path / "none") is None


SFT_SCRIPT = """
import sys
from pathlib import Path
from tests import tiny
from tuneline import train
from tuneline.train.common import last_checkpoint
from tuneline.params import SFTParams
from tests.test_train import BASE, ROWS
train.train_sft(BASE, ROWS, SFTParams(**eval(sys.argv[1])), Path(sys.argv[2]))
"""


def kill_9_once_checkpointed(params: dict, out: Path, at: tuple[str, ...]) -> str:
    """Run SFT with `params` in a child, SIGKILL it (its whole session: torchrun and its
    workers too) once its newest checkpoint ends with one of `at`; that checkpoint's name."""
    work = train.run_dir("sft", BASE, ROWS, SFTParams(**params))
    proc = subprocess.Popen([sys.executable, "-c", SFT_SCRIPT, repr(params), str(out)],
                            cwd=Path(__file__).parents[1], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 300
    while not (last_checkpoint(work / "checkpoints") or "").endswith(at):
        assert proc.poll() is None, "training finished before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    return Path(last_checkpoint(work / "checkpoints")).name


@pytest.mark.slow  # a training subprocess, killed
def test_kill_9_during_sft_resumes_from_the_last_checkpoint(tmp_path):
    params = {"max_steps": 12, "batch_size": 2, "checkpoint_every": 2, "max_length": 96,
              "learning_rate": 1e-4, "seed": 7}
    work = train.run_dir("sft", BASE, ROWS, SFTParams(**params))
    saved = kill_9_once_checkpointed(params, tmp_path / "a", ("-4", "-6", "-8"))
    metrics = train.train_sft(BASE, ROWS, SFTParams(**params), tmp_path / "b")
    assert metrics["resumed_from"] == saved and metrics["steps"] == 12
    assert (tmp_path / "b" / "adapter" / "adapter_model.safetensors").exists()
    assert not work.exists()  # finished: its checkpoints are gone


def closed_port() -> int:
    import socket

    with socket.socket() as s:  # bound then closed: nothing listens there
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow  # trains a model
def test_a_comet_key_with_no_reachable_server_tracks_offline_and_says_why(tmp_path, monkeypatch):
    # comet_ml on its own retries ~30 s, then trains on logging nothing while the metadata
    # said "online"
    monkeypatch.setenv("COMET_API_KEY", "comet-test-not-a-secret-unreachable")
    monkeypatch.setenv("COMET_URL_OVERRIDE", f"http://127.0.0.1:{closed_port()}/clientlib/")
    metrics = train.train_sft(tiny.path(), ROWS[:4], SFTParams(max_steps=1, batch_size=2,
                                                               max_length=96), tmp_path)
    tracking = metrics["tracking"]
    assert tracking["mode"] == "offline"
    assert "127.0.0.1" in tracking["online_unreachable"]
    with zipfile.ZipFile(tracking["archive"]) as z:
        assert any("messages" in n for n in z.namelist())
        assert not any(b"comet-test-not-a-secret" in z.read(n) for n in z.namelist())


def test_a_comet_server_that_answers_at_all_counts_as_reachable(monkeypatch):
    import http.server
    import threading

    from tuneline.train import tracking

    server = http.server.HTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:  # it answers 501 to everything: an HTTP answer, so the network path is there
        monkeypatch.setenv("COMET_URL_OVERRIDE", f"http://127.0.0.1:{server.server_port}/clientlib/")
        assert tracking.comet_unreachable() is None
        monkeypatch.setenv("COMET_URL_OVERRIDE", f"http://127.0.0.1:{closed_port()}/clientlib/")
        assert "refused" in tracking.comet_unreachable().lower()
    finally:
        server.shutdown()


@pytest.mark.slow  # trains a model
def test_training_is_tracked_in_an_offline_comet_experiment(tmp_path, monkeypatch):
    monkeypatch.delenv("COMET_API_KEY", raising=False)
    from transformers import AutoModelForCausalLM

    metrics = train.train_sft(tiny.path(), ROWS[:4], SFTParams(max_steps=2, batch_size=2,
                                                               max_length=96, seed=3), tmp_path)
    whole = sum(p.numel() for p in AutoModelForCausalLM.from_pretrained(tiny.path()).parameters())
    assert 0 < metrics["trainable_parameters"] < 0.05 * whole  # the LoRA adapter, not the model
    tracking = metrics["tracking"]
    assert tracking["mode"] == "offline" and tracking["experiment_key"]
    archive = Path(tracking["archive"])
    assert archive.exists() and zipfile.is_zipfile(archive)
    with zipfile.ZipFile(archive) as z:
        assert any("metrics" in n or "messages" in n for n in z.namelist())
