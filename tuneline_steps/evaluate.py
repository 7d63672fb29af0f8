from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pandas as pd
from zenml import log_metadata, step

from tuneline import llm as llm_core
from tuneline.curation import judge
from tuneline.llm import transformers_backend
from tuneline.params import EvalParams, JudgeParams, LLMParams
from tuneline.records import Pair, from_frame
from tuneline.ship import evaluate as core
from tuneline.train import trl_backend
from tuneline_steps._common import FRAMES, code_of, llm_for, log_usage


@step(cache_policy=code_of(core, judge, llm_core, transformers_backend, trl_backend),
      output_materializers={"eval_answers": FRAMES})
def evaluate(
    test_pairs: pd.DataFrame, sft_adapter: Path, dpo_adapter: Path, base_model: str,
    llm: LLMParams, judging: JudgeParams, evaluation: EvalParams = EvalParams(),
    production_sft: Path | None = None, production_dpo: Path | None = None,
    production_version: int | None = None,
) -> tuple[Annotated[dict, "eval_metrics"], Annotated[pd.DataFrame, "eval_answers"]]:
    """Base, tuned and production models on this test split: answer loss and judge score."""
    judge_llm = llm_for(llm)
    candidates = [("base", []), ("tuned", [sft_adapter, dpo_adapter])]
    if production_sft is not None and production_dpo is not None:
        candidates.append(("production", [production_sft, production_dpo]))
    load = core.model_loader(base_model, llm, evaluation)
    metrics, rows = core.evaluate_candidates(candidates, load, from_frame(test_pairs, Pair),
                                             judge_llm, judging, evaluation)
    if "production" in metrics:
        metrics["production"]["version"] = production_version
    log_metadata(metadata={"eval": metrics})
    log_usage(judge_llm)
    return metrics, pd.DataFrame(rows)
