from __future__ import annotations

from typing import Annotated

import pandas as pd
from zenml import get_step_context, log_metadata, step
from zenml.client import Client
from zenml.enums import ModelStages

from tuneline.params import PromotionParams
from tuneline.ship import promotion as rule
from tuneline.zenml_ext import registry

DATASET_INPUTS = ("train_pairs", "test_pairs", "train_preferences")


@step(enable_cache=False)  # the decision depends on the registry's current state
def register_model(
    eval_metrics: dict, train_pairs: pd.DataFrame, test_pairs: pd.DataFrame,
    train_preferences: pd.DataFrame, base_model: str, promotion: PromotionParams = PromotionParams(),
) -> Annotated[dict, "promotion_decision"]:
    """Record what made this model version and its scores; promote it only if it beats production."""
    context = get_step_context()
    model = context.model
    if model is None:
        raise RuntimeError("register_model needs a ZenML model: set `model:` in the run config")
    client = Client()
    run = client.get_pipeline_run(context.pipeline_run.id)
    frames = {"train_pairs": train_pairs, "test_pairs": test_pairs,
              "train_preferences": train_preferences}
    inputs = {name: context.inputs[name][0] for name in DATASET_INPUTS}
    # The dataset may come from another pipeline's run: link it so the version lists it.
    registry.link_artifacts(inputs.values(), client.get_model_version(model.name, model.id))

    metric = promotion.metric
    tuned = eval_metrics["tuned"][metric]
    try:
        prod = client.get_model_version(model.name, ModelStages.PRODUCTION)
        production = (prod.number, prod.run_metadata.get("eval_metrics", {}))
    except KeyError:
        production = None
    incumbent, label = rule.incumbent(metric, eval_metrics, production)
    promote, reason = rule.decide_promotion(metric, tuned, incumbent, label, promotion.min_improvement)
    stage = ModelStages.PRODUCTION if promote else ModelStages.STAGING
    model.set_stage(stage, force=True)
    decision = {"promoted": promote, "stage": stage.value, "reason": reason, "metric": metric,
                "candidate": tuned, "incumbent": incumbent}
    log_metadata(metadata={
        "base_model": base_model,
        "datasets": {n: registry.artifact_summary(inputs[n], len(frames[n])) for n in DATASET_INPUTS},
        "hyperparameters": registry.hyperparameters(run),
        "eval_metrics": eval_metrics["tuned"], "base_eval_metrics": eval_metrics["base"],
        "production_eval_metrics": eval_metrics.get("production", {}),
        "promotion": decision,
        "training_run": {"name": run.name, "id": str(run.id), "pipeline": run.pipeline.name},
    }, infer_model=True)
    return decision
