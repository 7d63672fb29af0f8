from __future__ import annotations

from typing import Annotated

import pandas as pd
from zenml import log_metadata, step
from zenml.config import CachePolicy

from steps._common import log_ledger, log_usage
from tuneline import dedup as dedup_core
from tuneline import filters, judge, minhash, preferences
from tuneline.llm import backend_modules, make_llm
from tuneline.params import (
    DedupParams,
    FilterParams,
    GenerateParams,
    JudgeParams,
    LLMParams,
    PreferenceParams,
)
from tuneline.records import Pair, Preference, dropped_frame, from_frame, to_frame


@step(cache_policy=CachePolicy(source_dependencies=[filters]))
def filter_pairs(
    pairs: pd.DataFrame, filtering: FilterParams = FilterParams()
) -> tuple[Annotated[pd.DataFrame, "filtered_pairs"], Annotated[pd.DataFrame, "filter_rejected"]]:
    """Drop pairs that break a rule (length, refusals, copying, junk); each drop says which."""
    items = from_frame(pairs, Pair)
    kept, dropped = filters.apply_filters(items, filtering)
    log_ledger("filter", len(items), len(kept), dropped)
    return to_frame(kept, Pair), dropped_frame(dropped)


@step(cache_policy=CachePolicy(source_dependencies=[dedup_core, minhash]))
def dedup_pairs(
    pairs: pd.DataFrame, dedup: DedupParams = DedupParams()
) -> tuple[Annotated[pd.DataFrame, "unique_pairs"], Annotated[pd.DataFrame, "dedup_rejected"]]:
    """Remove exact, MinHash near- and embedding (semantic) duplicate instructions."""
    items = from_frame(pairs, Pair)
    exact, d1 = dedup_core.exact_dedup(items)
    log_ledger("exact_dedup", len(items), len(exact), d1)
    fuzzy, d2 = dedup_core.minhash_dedup(exact, dedup)
    log_ledger("minhash_dedup", len(exact), len(fuzzy), d2)
    encoder = dedup_core.load_encoder(dedup.embedding_model, dedup.embedding_batch_size)
    kept, d3 = dedup_core.embedding_dedup(fuzzy, encoder, dedup.embedding_threshold)
    log_ledger("embedding_dedup", len(fuzzy), len(kept), d3)
    return to_frame(kept, Pair), dropped_frame(d1 + d2 + d3)


@step(cache_policy=CachePolicy(source_dependencies=[judge, *backend_modules()]))
def judge_pairs(
    pairs: pd.DataFrame, llm: LLMParams, judging: JudgeParams
) -> tuple[Annotated[pd.DataFrame, "judged_pairs"], Annotated[pd.DataFrame, "judge_rejected"]]:
    """Score each pair 1-5 with the LLM judge (or jury) and keep those above the threshold."""
    items = from_frame(pairs, Pair)
    judges = [make_llm(llm)] + [make_llm(j) for j in judging.jury]
    kept, dropped, jury = judge.judge_pairs(items, judges, judging)
    log_usage(*judges)
    log_ledger("judge", len(items), len(kept), dropped)
    if jury:
        log_metadata(metadata={"jury": jury})
    return to_frame(kept, Pair), dropped_frame(dropped)


@step(cache_policy=CachePolicy(source_dependencies=[preferences, judge, *backend_modules()]))
def build_preferences(
    pairs: pd.DataFrame, llm: LLMParams, generation: GenerateParams, judging: JudgeParams,
    preference: PreferenceParams = PreferenceParams(),
) -> tuple[Annotated[pd.DataFrame, "preferences"], Annotated[pd.DataFrame, "preference_rejected"]]:
    """Sample more answers per instruction, rank them with the judge, keep clear winners."""
    items = from_frame(pairs, Pair)
    model = make_llm(llm)
    prefs, dropped = preferences.build_preferences(items, model, generation, judging, preference)
    log_usage(model)
    log_ledger("preferences", len(items), len(prefs), dropped)
    return to_frame(prefs, Preference), dropped_frame(dropped)
