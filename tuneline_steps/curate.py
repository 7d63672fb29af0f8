from __future__ import annotations

from typing import Annotated

import pandas as pd
from zenml import log_metadata

from tuneline import llm as llm_core
from tuneline.curation import dedup as dedup_core
from tuneline.curation import filters, judge, preferences, source_checks
from tuneline.curation import generate as generate_core
from tuneline.params import (
    DedupParams,
    EmbeddingParams,
    FilterParams,
    GenerateParams,
    GroundingParams,
    JudgeParams,
    LLMParams,
    PreferenceParams,
)
from tuneline.records import Chunk, Pair, Preference, dropped_frame, from_frame, to_frame
from tuneline_steps._common import code_of, encoder_cache, frame_step, llm_for, log_ledger, log_usage


def _chunk_text(chunks: pd.DataFrame) -> dict[str, str]:
    return {c.chunk_id: c.text for c in from_frame(chunks, Chunk)}


def _chunk_where(chunks: pd.DataFrame) -> dict[str, str]:
    return {c.chunk_id: generate_core.where(c) for c in from_frame(chunks, Chunk)}


@frame_step(cache_policy=code_of(filters))
def filter_pairs(
    pairs: pd.DataFrame, imported_pairs: pd.DataFrame, filtering: FilterParams = FilterParams()
) -> tuple[Annotated[pd.DataFrame, "filtered_pairs"], Annotated[pd.DataFrame, "filter_rejected"]]:
    """Mix generated and imported pairs; drop those that break a rule, each drop says which."""
    items = from_frame(pairs, Pair) + from_frame(imported_pairs, Pair)
    kept, dropped = filters.apply_filters(items, filtering)
    log_ledger("filter", len(items), len(kept), dropped)
    log_metadata(metadata={"filter_inputs": {"generated": len(pairs), "imported": len(imported_pairs)}})
    return to_frame(kept, Pair), dropped_frame(dropped)


@frame_step(cache_policy=code_of(dedup_core))
def dedup_pairs(
    pairs: pd.DataFrame, dedup: DedupParams = DedupParams(),
    embedding: EmbeddingParams = EmbeddingParams(),
) -> tuple[Annotated[pd.DataFrame, "unique_pairs"], Annotated[pd.DataFrame, "dedup_rejected"]]:
    """Remove exact, near (MinHash) and paraphrased (embedding) duplicate pairs."""
    items = from_frame(pairs, Pair)
    encoder = dedup_core.load_encoder(embedding.model, embedding.batch_size, embedding.device,
                                      encoder_cache())
    dropped = []
    for name, n_in, kept, stage_dropped in dedup_core.dedup(items, dedup, encoder):
        log_ledger(name, n_in, len(kept), stage_dropped)
        dropped += stage_dropped
    log_metadata(metadata={"embedding": {"model": embedding.model, "device": encoder.device,
                                         "texts": dict(encoder.usage)}})
    return to_frame(kept, Pair), dropped_frame(dropped)


@frame_step(cache_policy=code_of(source_checks))
def check_grounding(
    pairs: pd.DataFrame, chunks: pd.DataFrame, grounding_check: GroundingParams = GroundingParams(),
    embedding: EmbeddingParams = EmbeddingParams(),
) -> tuple[Annotated[pd.DataFrame, "grounded_pairs"], Annotated[pd.DataFrame, "grounding_rejected"]]:
    """Read each pair against its chunk: scaffolding, commentary, context, claims, relevance, fit."""
    items = from_frame(pairs, Pair)
    encoder = dedup_core.load_encoder(embedding.model, embedding.batch_size, embedding.device,
                                      encoder_cache())
    kept, dropped, stats = source_checks.run_source_checks(
        items, _chunk_text(chunks), encoder, grounding_check, _chunk_where(chunks))
    log_ledger("grounding", len(items), len(kept), dropped)
    log_metadata(metadata={"grounding_stats": stats,
                           "embedding": {"model": embedding.model, "device": encoder.device,
                                         "texts": dict(encoder.usage)}})
    return to_frame(kept, Pair), dropped_frame(dropped)


@frame_step(cache_policy=code_of(judge, llm_core))
def judge_pairs(
    pairs: pd.DataFrame, chunks: pd.DataFrame, llm: LLMParams, judging: JudgeParams
) -> tuple[Annotated[pd.DataFrame, "judged_pairs"], Annotated[pd.DataFrame, "judge_rejected"]]:
    """Score each pair 1-5 against its source chunk with the LLM judge (or jury); keep the good."""
    items = from_frame(pairs, Pair)
    judges = [llm_for(llm)] + [llm_for(j) for j in judging.jury]
    kept, dropped, stats = judge.judge_pairs(items, judges, judging, _chunk_text(chunks))
    log_usage(*judges)
    log_ledger("judge", len(items), len(kept), dropped)
    separation = stats.pop("separation", None)
    if separation:
        log_metadata(metadata={"judge_separation": separation})
    if stats:
        log_metadata(metadata={"jury": stats})
    return to_frame(kept, Pair), dropped_frame(dropped)


@frame_step(cache_policy=code_of(preferences, llm_core))
def build_preferences(
    pairs: pd.DataFrame, chunks: pd.DataFrame, imported_preferences: pd.DataFrame, llm: LLMParams,
    judge_llm: LLMParams, generation: GenerateParams, judging: JudgeParams,
    preference: PreferenceParams = PreferenceParams(),
) -> tuple[Annotated[pd.DataFrame, "preferences"], Annotated[pd.DataFrame, "preference_rejected"]]:
    """Rank sampled answers per instruction with the kept answer's judge; score imported rejected sides."""
    items = from_frame(pairs, Pair)
    model = llm_for(llm)
    judges = [llm_for(judge_llm)] + [llm_for(j) for j in judging.jury]
    prefs, dropped = preferences.build_preferences(items, model, judges, generation, judging,
                                                   preference, _chunk_text(chunks),
                                                   from_frame(imported_preferences, Preference))
    log_usage(model, *judges)
    log_ledger("preferences", len(items), len(prefs), dropped)
    return to_frame(prefs, Preference), dropped_frame(dropped)
