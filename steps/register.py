from __future__ import annotations

from typing import Annotated

from zenml import get_step_context, log_metadata, step
from zenml.client import Client
from zenml.enums import ModelStages

from tuneline.params import PromotionParams
from tuneline.registry import decide_promotion


@step(enable_cache=False)  # the decision depends on the registry's current state
def register_model(
    eval_metrics: dict, promotion: PromotionParams = PromotionParams()
) -> Annotated[dict, "promotion_decision"]:
    """Record the eval metrics on this model version; promote it only if it beats production."""
    model = get_step_context().model
    if model is None:
        raise RuntimeError("register_model needs a ZenML model: set `model:` in the run config")
    metric = promotion.metric
    tuned = eval_metrics["tuned"][metric]
    try:
        prod = Client().get_model_version(model.name, ModelStages.PRODUCTION)
        incumbent = prod.run_metadata.get("eval_metrics", {}).get(metric)
        label = f"production version {prod.number}"
    except KeyError:
        incumbent, label = eval_metrics["base"][metric], "the base model"
    promote, reason = decide_promotion(metric, tuned, incumbent, label, promotion.min_improvement)
    stage = ModelStages.PRODUCTION if promote else ModelStages.STAGING
    model.set_stage(stage, force=True)
    decision = {"promoted": promote, "stage": stage.value, "reason": reason, "metric": metric,
                "candidate": tuned, "incumbent": incumbent}
    log_metadata(metadata={"eval_metrics": eval_metrics["tuned"],
                           "base_eval_metrics": eval_metrics["base"], "promotion": decision},
                 infer_model=True)
    return decision
