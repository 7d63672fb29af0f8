from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pandas as pd
from zenml import log_metadata, step
from zenml.types import HTMLString

from tuneline import llm as llm_core
from tuneline.curation import judge
from tuneline.llm import transformers_backend
from tuneline.params import EvalParams, JudgeParams, LLMParams
from tuneline.records import Pair, from_frame
from tuneline.ship import comparison, general_check
from tuneline.ship import evaluate as core
from tuneline.train import trl_backend
from tuneline_steps._common import FRAMES, code_of, llm_for, log_usage


@step(cache_policy=code_of(core, general_check, comparison, judge, llm_core,
                           transformers_backend, trl_backend),
      output_materializers={"eval_answers": FRAMES})
def evaluate(
    test_pairs: pd.DataFrame, sft_adapter: Path, dpo_adapter: Path, base_model: str,
    system_prompt: str, llm: LLMParams, judging: JudgeParams, evaluation: EvalParams = EvalParams(),
    production_sft: Path | None = None, production_dpo: Path | None = None,
    production_version: int | None = None, production_base_model: str | None = None,
) -> tuple[Annotated[dict, "eval_metrics"], Annotated[pd.DataFrame, "eval_answers"],
           Annotated[HTMLString, "eval_comparison"]]:
    """Base, tuned and production models on this test split and general prompts, side by side."""
    judge_llm = llm_for(llm)
    bases = {"base": base_model, "tuned": base_model,
             "production": production_base_model or base_model}
    candidates = [("base", base_model, []), ("tuned", base_model, [sft_adapter, dpo_adapter])]
    if production_sft is not None and production_dpo is not None:
        candidates.append(("production", bases["production"], [production_sft, production_dpo]))
    general, left_out = (general_check.load_prompts(evaluation.general_prompts_file,
                                                    evaluation.general_prompts)
                         if evaluation.general_prompts else ([], []))
    load = core.model_loader(bases, llm, evaluation)
    metrics, rows = core.evaluate_candidates(candidates, load, from_frame(test_pairs, Pair),
                                             general, judge_llm, judging, evaluation,
                                             system_prompt)
    if "production" in metrics:
        metrics["production"] |= {"version": production_version, "base_model": bases["production"]}
    log_metadata(metadata={"eval": metrics, **({"general_left_out": {  # said, not silently shrunk
        g["key"]: g["reason"] for g in left_out}} if left_out else {})})
    log_usage(judge_llm)
    return metrics, pd.DataFrame(rows), HTMLString(comparison.render(rows, metrics))
