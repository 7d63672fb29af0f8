"""What every curation step does at its end: check the ledger and log it."""

from __future__ import annotations

from zenml import log_metadata
from zenml.config import CachePolicy

from tuneline.cachedeps import source_closure
from tuneline.records import Dropped, ledger
from tuneline.zenml_ext.materializers import HashedDataFrameMaterializer

# the materializer of every DataFrame a step returns: content-hashed, so an identical rerun
# output keeps the steps after it cached
FRAMES = HashedDataFrameMaterializer


def code_of(*core) -> CachePolicy:
    """A cache policy covering the given core modules and every tuneline module they import
    (ZenML hashes only the step's own source)."""
    return CachePolicy(source_dependencies=source_closure(*core))


def log_ledger(stage: str, n_in: int, kept: int, dropped: list[Dropped]) -> None:
    log_metadata(metadata={stage: ledger(stage, n_in, kept, dropped)})


def log_usage(*llms) -> None:
    """Calls made and served from the call cache, tokens, and cost when priced, per LLM."""
    log_metadata(metadata={"llm_usage": {f"{n}:{llm.name}": dict(llm.usage) for n, llm in enumerate(llms)}})
