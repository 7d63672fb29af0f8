from __future__ import annotations

from typing import Annotated

import pandas as pd

from tuneline import llm as llm_core
from tuneline.curation import generate as core
from tuneline.params import GenerateParams, LLMParams
from tuneline.records import Chunk, Pair, dropped_frame, from_frame, to_frame
from tuneline_steps._common import code_of, frame_step, llm_for, log_ledger, log_usage


@frame_step(cache_policy=code_of(core, llm_core))
def generate_pairs(
    chunks: pd.DataFrame, llm: LLMParams, generation: GenerateParams
) -> tuple[Annotated[pd.DataFrame, "generated_pairs"], Annotated[pd.DataFrame, "generate_rejected"]]:
    """Pairs from chunks: a question for each answer passage (or a question, then its answer)."""
    items = from_frame(chunks, Chunk)
    model = llm_for(llm)
    pairs, dropped = core.generate_pairs(items, model, generation)
    log_usage(model)
    log_ledger("generate", len(core.attempts(items, generation)), len(pairs), dropped)
    return to_frame(pairs, Pair), dropped_frame(dropped)
