"""What every curation step does at its end: check the ledger and log it."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from zenml import log_metadata
from zenml.config import CachePolicy

from tuneline import patches
from tuneline.cachedeps import source_closure
from tuneline.records import Dropped, ledger
from tuneline.zenml_ext.materializers import HashedDataFrameMaterializer

# the materializer of every DataFrame a step returns: content-hashed, so an identical rerun
# output keeps the steps after it cached
FRAMES = HashedDataFrameMaterializer


def frames_of(func) -> dict:
    """`output_materializers` naming FRAMES for each DataFrame output of `func`, in the order
    the step returns them. Not a single class for all outputs: ZenML spreads that over a set
    of output names, whose order (and with it the step's cache key) changes from one process
    to the next, so a rerun would miss the cache on every other step."""
    from zenml.steps.utils import parse_return_type_annotations

    return {name: FRAMES for name, out in parse_return_type_annotations(func).items()
            if out.resolved_annotation is pd.DataFrame}


def code_of(*core) -> CachePolicy:
    """A cache policy covering the given core modules and every tuneline module they import
    (ZenML hashes only the step's own source)."""
    return CachePolicy(source_dependencies=source_closure(*core))


def llm_for(params):
    """`make_llm` with the stack's call folder behind the machine's call cache
    (`LLMParams.shared_cache`): a step in a fresh container reuses every call an earlier run
    made anywhere on the stack."""
    from tuneline.llm import make_llm

    return make_llm(params, shared=shared_calls(params))


def shared_calls(params):
    """The stack's call folder for this LLM config, or None."""
    if not params.cache or not params.shared_cache:
        return None
    return _folder(params.shared_cache)


def encoder_cache():
    """The machine's call cache in front of the stack's folder, for embeddings: a rerun
    encodes only texts it has not seen (the grounding checks encode every chunk sentence)."""
    from tuneline.llm.cache import open_cache

    return open_cache(True, _folder("artifact_store"))


def _folder(root: str):
    from zenml.client import Client
    from zenml.io import fileio

    from tuneline.llm.shared import FolderStore

    if root == "artifact_store":
        root = f"{Client().active_stack.artifact_store.path.rstrip('/')}/tuneline/llm-calls"
    return FolderStore(root, fs=fileio)


def log_ledger(stage: str, n_in: int, kept: int, dropped: list[Dropped]) -> None:
    log_metadata(metadata={stage: ledger(stage, n_in, kept, dropped)})


def log_usage(*llms) -> None:
    """Calls made and served from the call cache, tokens, and cost when priced, per LLM."""
    log_metadata(metadata={"llm_usage": {f"{n}:{llm.name}": dict(llm.usage) for n, llm in enumerate(llms)}})


def frame_step(**kwargs):
    """`@step(**kwargs)` whose DataFrame outputs are content-hashed (`frames_of`)."""
    from zenml import step

    def wrap(func):
        return step(output_materializers=frames_of(func), **kwargs)(func)

    return wrap


def step_folder(prefix: str) -> Path:
    """A local folder (a step's Path output, or files staged for an upload) deleted when the
    step ends, after ZenML has stored the outputs' copies in the artifact store (later steps
    and runs load those). Without it every run left its adapters, GGUF files and Hub uploads
    in the temp folder for good: the test runs of one day here had left 13 GB of GGUF exports
    and 4.6 GB of adapters; a merged 8B upload stages 16 GB."""
    import shutil
    import tempfile

    from zenml import get_step_context

    folder = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        context = get_step_context()
    except RuntimeError:  # the function called outside a step run: the caller owns the folder
        return folder
    # the registry ZenML's own materializers put their temporary folders in: it runs when the
    # step context closes, after the outputs are stored (zenml 0.98 step_runner)
    patches.check("zenml-step-cleanup")
    context._cleanup_registry.register_callback(lambda: shutil.rmtree(folder, ignore_errors=True))
    return folder
