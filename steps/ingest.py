from __future__ import annotations

from typing import Annotated

import pandas as pd

from steps._common import code_of, frame_step, log_ledger
from tuneline import ingest as core
from tuneline.params import IngestParams
from tuneline.records import Chunk, Document, RawFile, dropped_frame, from_frame, to_frame


# Never cached: it is the step that looks at the disk. Its manifest has a content hash,
# so when nothing changed every later step is still served from the cache.
@frame_step(enable_cache=False)
def scan_raw(
    raw_dir: str, ingest: IngestParams = IngestParams()
) -> tuple[Annotated[pd.DataFrame, "raw_files"], Annotated[pd.DataFrame, "scan_rejected"]]:
    """List the raw folder's files with size and sha256 (the root of every lineage)."""
    files, skipped = core.scan_folder(raw_dir, ingest.extensions)
    log_ledger("scan", len(files) + len(skipped), len(files), skipped)
    return to_frame(files, RawFile), dropped_frame(skipped)


@frame_step(cache_policy=code_of(core))
def ingest_documents(
    raw_files: pd.DataFrame, raw_dir: str, ingest: IngestParams = IngestParams()
) -> tuple[
    Annotated[pd.DataFrame, "documents"],
    Annotated[pd.DataFrame, "chunks"],
    Annotated[pd.DataFrame, "ingest_rejected"],
]:
    """Read files into documents (one per file, one per JSONL line) and cut them into chunks."""
    files = from_frame(raw_files, RawFile)
    docs, dropped = core.read_documents(raw_dir, files, ingest)
    chunks = core.chunk_documents(docs, ingest)
    # ledger unit: files and JSONL lines in; documents kept
    log_ledger("ingest", len(docs) + len(dropped), len(docs), dropped)
    return to_frame(docs, Document), to_frame(chunks, Chunk), dropped_frame(dropped)
