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
) -> tuple[Annotated[dict, "eval_metrics"], Annotated[pd.DataFrame, "eval_answers"]]:
    """Base vs tuned model on the test split: completion loss and judge score (judge = `llm`)."""
    test = from_frame(test_pairs, Pair)
    judge_llm = make_llm(llm)
    metrics, rows = {}, []
    for label, adapters in (("base", []), ("tuned", [sft_adapter, dpo_adapter])):
        model, tok = trl_backend.load_model(base_model, adapters)
        as_llm = wrap(model, tok, f"{base_model} ({label})", llm.batch_size, llm.seed)
        metrics[label], answers = core.evaluate_model(as_llm, model, tok, test, judge_llm,
                                                      judging, evaluation, label)
        rows += answers
    log_metadata(metadata={"eval": metrics})
    log_usage(judge_llm)
    return metrics, pd.DataFrame(rows)
