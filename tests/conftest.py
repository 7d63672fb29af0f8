"""Test setup: an isolated ZenML store per session, offline, no telemetry.

The environment is set before anything imports zenml (conftest is imported first).
"""

import os
import shutil
import tempfile

# every temporary folder of the session (the ZenML store, the call cache, the Hub recorder's
# blobs, what the runs it starts write) under one root, removed after a passing session and
# kept (its path printed) after a failing one: sessions used to leave ~1 GB each in /tmp
SESSION_TMP = tempfile.mkdtemp(prefix="tuneline-tests-")
os.environ["TMPDIR"] = SESSION_TMP  # the CLI runs and servers the tests start
tempfile.tempdir = SESSION_TMP

os.environ["ZENML_CONFIG_PATH"] = tempfile.mkdtemp(prefix="tuneline-zenml-")
# a fresh LLM call cache per session: tests see real generations, not an earlier run's
os.environ["TUNELINE_CALL_CACHE"] = os.path.join(tempfile.mkdtemp(prefix="tuneline-calls-"),
                                                 "calls.sqlite")
os.environ["ZENML_ANALYTICS_OPT_IN"] = "false"
os.environ["COMET_ERROR_TRACKING_ENABLE"] = "false"  # comet_ml's own telemetry, on import
os.environ["ZENML_LOGGING_VERBOSITY"] = "WARN"
os.environ.setdefault("HF_HUB_OFFLINE", "1")
# uploads go to tests/hub_endpoint.py, which speaks Git LFS for large files, not Xet
os.environ["HF_HUB_DISABLE_XET"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytest  # noqa: E402

from tuneline.records import Pair  # noqa: E402


class FakeLLM:
    """Scripted replies for unit tests of parsing and control flow (never a feature test)."""

    name = "fake"

    def __init__(self, replies=None, probs=None):
        self.replies = list(replies or [])
        self.probs = list(probs or [])
        self.calls = []
        self.usage = {}

    def generate(self, chats, *, max_new_tokens, temperature=0.0, top_p=1.0, desc="", schema=None,
                 no_repeat=None):
        self.calls.append(("generate", len(chats)))
        return [self.replies.pop(0) for _ in chats]

    def choice_probs(self, chats, prefix, choices, *, desc=""):
        self.calls.append(("choice_probs", len(chats)))
        return [self.probs.pop(0) for _ in chats]


@pytest.fixture
def fake_llm():
    return FakeLLM


def make_pair(i, instruction, answer="An answer with enough words to pass the length filter here.",
              score=None):
    return Pair(f"p{i}", f"c{i}", "doc.md", instruction, answer, score)


def pytest_collection_modifyitems(config, items):
    """Every test under tests/pipelines/ runs real pipelines: the slow tier (`make test-fast`
    leaves it out, with the tests marked `slow` one by one elsewhere)."""
    for item in items:
        if item.nodeid.startswith("tests/pipelines/"):
            item.add_marker(pytest.mark.slow)


def pytest_sessionfinish(session, exitstatus):
    if exitstatus == 0:
        shutil.rmtree(SESSION_TMP, ignore_errors=True)
    else:
        print(f"\nthe session's temporary files (ZenML store, run logs) are kept in {SESSION_TMP}")
