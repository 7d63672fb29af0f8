from __future__ import annotations

from typing import Annotated

import pandas as pd
from zenml import get_step_context, log_metadata, step
from zenml.client import Client
from zenml.enums import ModelStages

from tuneline.params import PromotionParams
from tuneline.ship import promotion as rule
from tuneline.zenml_ext import registry, trace

DATASET_INPUTS = ("train_pairs", "test_pairs", "train_preferences")
GENERAL_REGRESSION_TAG = "general-ability-regressed"


@step(enable_cache=False)  # the decision depends on the registry's current state
def register_model(
    eval_metrics: dict, eval_answers: pd.DataFrame, train_pairs: pd.DataFrame,
    test_pairs: pd.DataFrame, train_preferences: pd.DataFrame, base_model: str,
    promotion: PromotionParams = PromotionParams(),
) -> Annotated[dict, "promotion_decision"]:
    """Record what made this version, its scores and the gate's decision; promote if it passes."""
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

    adapters = registry.run_adapters(run)
    same = registry.version_with_adapters(model.name, adapters, other_than=model.id)
    if same is not None:
        # the run's version is a copy: record the decision; `settle_version` deletes the copy
        # at the end of the run (later steps still link their outputs to it until then)
        decision = rule.unchanged(same.number, getattr(same.stage, "value", same.stage))
        log_metadata(metadata={"promotion": decision}, infer_model=True)
        return decision
    try:
        prod = client.get_model_version(model.name, ModelStages.PRODUCTION)
        production = (prod.number, prod.run_metadata.get("eval_metrics", {}))
    except KeyError:
        prod, production = None, None
    key, label = rule.incumbent(eval_metrics, production)
    decision = (rule.decide(rule.items_from_rows(eval_answers.to_dict("records")), key, label,
                            promotion)
                if key is not None else rule.not_comparable(label, promotion))
    # the data this version changed against the version it is compared with (production, else
    # the newest earlier version)
    against = prod or registry.latest_other_version(model.name, model.id)
    data_diff = (trace.version_diff(against, inputs["train_pairs"])
                 if against is not None and "training_run" in against.run_metadata else None)
    stage = ModelStages.PRODUCTION if decision["promoted"] else ModelStages.STAGING
    model.set_stage(stage, force=True)
    decision["stage"] = stage.value
    if decision["general_regression"]:  # marked also when kept in staging: findable by tag
        client.update_model_version(model.name, model.id, add_tags=[GENERAL_REGRESSION_TAG])
    log_metadata(metadata={
        "base_model": base_model,
        "datasets": {n: registry.artifact_summary(inputs[n], len(frames[n])) for n in DATASET_INPUTS},
        "hyperparameters": registry.hyperparameters(run),
        "eval_metrics": eval_metrics["tuned"], "base_eval_metrics": eval_metrics["base"],
        "production_eval_metrics": eval_metrics.get("production", {}),
        "promotion": decision, "gate": promotion.model_dump(),
        "training_run": {"name": run.name, "id": str(run.id), "pipeline": run.pipeline.name},
        "adapters": adapters,
        **({"dataset_diff": data_diff} if data_diff else {}),
    }, infer_model=True)
    # also on the step: the open-source dashboard shows a step's metadata, not a model version's
    log_metadata(metadata={"promotion": decision})
    return decision


@step(enable_cache=False)  # acts on the registry as it is at the end of this run
def settle_version(promotion_decision: dict) -> None:
    """End a run that made an existing version's adapters with that version, not a copy."""
    # ZenML created this run's version when the run started, before anything could know; the
    # copy is deleted, the run listed under the kept version and its metadata names it
    if not promotion_decision.get("unchanged"):
        return
    context = get_step_context()
    model, run_id = context.model, context.pipeline_run.id
    kept = Client().get_model_version(model.name, promotion_decision["same_as"])
    registry.end_with_version(run_id, model.id, kept)
    log_metadata(metadata={"model_version": {"name": model.name, "version": kept.number,
                                             "unchanged": True}}, run_id_name_or_prefix=run_id)
