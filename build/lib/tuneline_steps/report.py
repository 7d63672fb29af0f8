from __future__ import annotations

from typing import Annotated

import pandas as pd
from zenml import step
from zenml.types import HTMLString

from tuneline.curation import report as core
from tuneline_steps._common import code_of


@step(cache_policy=code_of(core))
def quality_report(
    raw_files: pd.DataFrame, documents: pd.DataFrame, chunks: pd.DataFrame,
    generated: pd.DataFrame, imported: pd.DataFrame, filtered: pd.DataFrame, unique: pd.DataFrame,
    grounded: pd.DataFrame, judged: pd.DataFrame,
    preferences: pd.DataFrame, train: pd.DataFrame, test: pd.DataFrame,
    ingest_rejected: pd.DataFrame, generate_rejected: pd.DataFrame, filter_rejected: pd.DataFrame,
    dedup_rejected: pd.DataFrame, grounding_rejected: pd.DataFrame, judge_rejected: pd.DataFrame,
    preference_rejected: pd.DataFrame, decontaminate_rejected: pd.DataFrame,
) -> tuple[Annotated[HTMLString, "data_quality_report"], Annotated[dict, "curation_summary"]]:
    """HTML report of the dataset build (sample read against chunks, funnel, drops, scores) and its summary."""
    sizes = {"raw_files": raw_files, "documents": documents, "chunks": chunks,
             "generated_pairs": generated, "imported_pairs": imported, "filtered_pairs": filtered,
             "unique_pairs": unique, "grounded_pairs": grounded, "judged_pairs": judged,
             "preferences": preferences, "train_pairs": train, "test_pairs": test}
    funnel = [(label, len(sizes[output])) for label, _, output in core.FUNNEL]
    rejected = pd.concat([ingest_rejected, generate_rejected, filter_rejected, dedup_rejected,
                          grounding_rejected, judge_rejected, preference_rejected, decontaminate_rejected],
                         ignore_index=True)
    pairs = pd.concat([generated, imported], ignore_index=True)
    kept_text = dict(zip(pairs.pair_id, pairs.instruction))
    sources = core.per_source(chunks, pairs, pd.concat([train, test], ignore_index=True), rejected)
    kept = pd.concat([train, test], ignore_index=True)
    sample = core.sample_with_chunks(kept, rejected, chunks)
    page = core.render(funnel, rejected, judged.score.dropna().tolist(), kept_text, sources, sample=sample)
    return HTMLString(page), core.curation_summary(funnel, rejected)
