"""What every curation step does at its end: check the ledger and log it."""

from __future__ import annotations

from zenml import log_metadata

from tuneline.records import Dropped, ledger


def log_ledger(stage: str, n_in: int, kept: int, dropped: list[Dropped]) -> None:
    log_metadata(metadata={stage: ledger(stage, n_in, kept, dropped)})


def log_usage(*llms) -> None:
    """Calls made and served from the call cache, tokens, and cost when priced, per LLM."""
    log_metadata(metadata={"llm_usage": {f"{n}:{llm.name}": dict(llm.usage) for n, llm in enumerate(llms)}})
