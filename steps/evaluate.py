from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pandas as pd
from zenml import log_metadata, step
from zenml.config import CachePolicy

from steps._common import log_usage
from tuneline import evaluate as core
from tuneline import judge
from tuneline.llm import backend_modules, make_llm
from tuneline.llm.transformers_backend import wrap
from tuneline.params import EvalParams, JudgeParams, LLMParams
from tuneline.records import Pair, from_frame
from tuneline.train import trl_backend


@step(cache_policy=CachePolicy(source_dependencies=[core, judge, *backend_modules()]))
def evaluate(
    test_pairs: pd.DataFrame, sft_adapter: Path, dpo_adapter: Path, base_model: str,
    llm: LLMParams, judging: JudgeParams, evaluation: EvalParams = EvalParams(),
    production_sft: Path | None = None, production_dpo: Path | None = None,
    production_version: int | None = None,
) -> tuple[Annotated[dict, "eval_metrics"], Annotated[pd.DataFrame, "eval_answers"]]:
    """Base, tuned and production models on this test split: answer loss and judge score."""
    test = from_frame(test_pairs, Pair)
    judge_llm = make_llm(llm)
    metrics, rows = {}, []
    candidates = [("base", []), ("tuned", [sft_adapter, dpo_adapter])]
    if production_sft is not None and production_dpo is not None:
        candidates.append(("production", [production_sft, production_dpo]))
    for label, adapters in candidates:
        if label == "production" and core.same_adapters(adapters, candidates[1][1]):
            metrics[label] = dict(metrics["tuned"])  # e.g. a rerun whose training was cached
            continue
        model, tok = trl_backend.load_model(base_model, adapters)
        as_llm = wrap(model, tok, f"{base_model} ({label})", llm.batch_size, llm.seed)
        metrics[label], answers = core.evaluate_model(as_llm, model, tok, test, judge_llm,
                                                      judging, evaluation, label)
        rows += answers
    if "production" in metrics:
        metrics["production"]["version"] = production_version
    log_metadata(metadata={"eval": metrics})
    log_usage(judge_llm)
    return metrics, pd.DataFrame(rows)
