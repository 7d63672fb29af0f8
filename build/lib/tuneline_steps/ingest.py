from __future__ import annotations

from typing import Annotated

import pandas as pd
from zenml import log_metadata

from tuneline.documents import ingest as core
from tuneline.params import IngestParams
from tuneline.records import (
    Chunk,
    Document,
    Pair,
    Preference,
    RawFile,
    dropped_frame,
    from_frame,
    to_frame,
)
from tuneline_steps._common import code_of, frame_step, log_ledger


# Never cached: it is the step that looks at the disk. Its manifest has a content hash,
# so when nothing changed every later step is still served from the cache.
@frame_step(enable_cache=False)
def scan_raw(
    raw_dir: str, ingest: IngestParams = IngestParams()
) -> tuple[Annotated[pd.DataFrame, "raw_files"], Annotated[pd.DataFrame, "scan_rejected"]]:
    """List the raw folder's files and the configured datasets with sha256 (every lineage's root)."""
    files, skipped = core.scan_sources(raw_dir, ingest)
    log_ledger("scan", len(files) + len(skipped), len(files), skipped)
    return to_frame(files, RawFile), dropped_frame(skipped)


@frame_step(cache_policy=code_of(core))
def ingest_documents(
    raw_files: pd.DataFrame, raw_dir: str, ingest: IngestParams = IngestParams()
) -> tuple[
    Annotated[pd.DataFrame, "documents"],
    Annotated[pd.DataFrame, "chunks"],
    Annotated[pd.DataFrame, "imported_pairs"],
    Annotated[pd.DataFrame, "imported_preferences"],
    Annotated[pd.DataFrame, "ingest_rejected"],
]:
    """Read files and datasets into documents cut at their sections, and import instruction data."""
    got = core.read_sources(raw_dir, from_frame(raw_files, RawFile), ingest)
    chunks = core.chunk_documents(got.documents, ingest)
    # ledger unit: files, JSONL lines and dataset rows in; documents and imported pairs kept
    log_ledger("ingest", got.kept() + len(got.dropped), got.kept(), got.dropped)
    log_metadata(metadata={"ingest_sources": core.source_counts(got, chunks)})
    return (to_frame(got.documents, Document), to_frame(chunks, Chunk), to_frame(got.pairs, Pair),
            to_frame(got.preferences, Preference), dropped_frame(got.dropped))
