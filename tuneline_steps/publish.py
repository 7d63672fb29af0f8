from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pandas as pd
from zenml import get_step_context, log_metadata, step
from zenml.client import Client

from tuneline.params import DatasetHubParams, HubParams
from tuneline.records import Pair, Preference, from_frame
from tuneline.ship import cards
from tuneline.ship import hub as hub_core
from tuneline_steps._common import step_folder


@step(enable_cache=False)  # an upload is a side effect: never replay it from the cache
def push_to_hub(
    promotion_decision: dict, sft_adapter: Path, dpo_adapter: Path, base_model: str,
    gguf_files: Path, gguf_report: dict, hub: HubParams = HubParams(),
) -> Annotated[dict, "hub_push"]:
    """Upload the model and its card, and the GGUF quants that passed their checks, to the Hub."""
    # hub.repo_id: merged 16-bit or one adapter; hub.gguf_repo_id: the verified quants, their
    # Ollama Modelfiles and a card
    if hub.repo_id is None and hub.gguf_repo_id is None:
        return {"pushed": False, "reason": "no hub.repo_id or hub.gguf_repo_id configured"}
    if promotion_decision.get("unchanged"):
        return {"pushed": False, "reason": promotion_decision["reason"]}
    if hub.only_if_promoted and not promotion_decision["promoted"]:
        return {"pushed": False, "reason": f"not promoted: {promotion_decision['reason']}"}
    token = hub_core.read_token(hub.token_env)  # before the slow part: fail fast
    model = get_step_context().model
    # read fresh: register_model wrote this version's metadata after the run started
    version = Client().get_model_version(model.name, model.id)
    record = {**version.run_metadata, "model": model.name, "version": version.number,
              "run": version.run_metadata.get("training_run", {}).get("name")}
    message = f"tuneline: {model.name} version {version.number}"
    result: dict = {"pushed": False}
    if hub.repo_id:
        card = cards.model_card(hub.repo_id, record, hub.mode, hub.intended_use, hub.license)
        folder = hub_core.build_folder(step_folder("tuneline-hub-"), base_model,
                                       [sft_adapter, dpo_adapter], hub.mode, card)
        pushed = hub_core.upload(folder, hub.repo_id, token, hub.private, hub.endpoint, message)
        result = {"pushed": True, "mode": hub.mode,
                  "files": sorted(p.name for p in folder.iterdir()), **pushed}
    if hub.gguf_repo_id:
        folder, skipped = hub_core.gguf_folder(
            step_folder("tuneline-hub-gguf-"), gguf_files, gguf_report,
            hub.gguf_repo_id, hub.repo_id, base_model, record, hub.license)
        if folder is None:
            result["gguf"] = {"pushed": False, "reason": "no GGUF quant passed its checks",
                              "not_published": skipped}
        else:
            result["gguf"] = {"pushed": True, "files": sorted(p.name for p in folder.iterdir()),
                              "not_published": skipped,
                              **hub_core.upload(folder, hub.gguf_repo_id, token, hub.private,
                                                hub.endpoint, message)}
    log_metadata(metadata={"hub": result}, infer_model=True)
    return result


# the settings a dataset card shows: the parameter groups of the steps that shaped the data
CARD_STEPS = ("ingest_documents", "generate_pairs", "filter_pairs", "dedup_pairs",
              "check_grounding", "judge_pairs", "build_preferences", "split_dataset")


def _effective_settings(run) -> dict:
    """step.group -> every setting of that group as the run used it (configured values over
    the step's defaults)."""
    import inspect

    from pydantic import BaseModel

    from tuneline_steps import all_steps

    known = all_steps()
    out = {}
    for name in CARD_STEPS:
        if name not in run.steps:
            continue
        given = run.steps[name].config.parameters
        for pname, p in inspect.signature(known[name].entrypoint).parameters.items():
            value = given.get(pname, p.default)
            if isinstance(value, BaseModel):
                value = value.model_dump()
            if isinstance(value, dict):
                out[f"{name}.{pname}"] = value
    return out


@step(enable_cache=False)  # an upload is a side effect: never replay it from the cache
def publish_dataset(
    raw_files: pd.DataFrame, train_pairs: pd.DataFrame, test_pairs: pd.DataFrame,
    train_preferences: pd.DataFrame, test_preferences: pd.DataFrame, curation_summary: dict,
    dataset_hub: DatasetHubParams = DatasetHubParams(),
) -> Annotated[dict, "dataset_push"]:
    """Push the curated splits as parquet with a dataset card to a Hub dataset repo."""
    if dataset_hub.repo_id is None:
        return {"pushed": False, "reason": "no dataset_hub.repo_id configured"}
    token = hub_core.read_token(dataset_hub.token_env)
    ctx = get_step_context()
    run = Client().get_pipeline_run(ctx.pipeline_run.id)
    splits = {"train_pairs": from_frame(train_pairs, Pair), "test_pairs": from_frame(test_pairs, Pair),
              "train_preferences": from_frame(train_preferences, Preference),
              "test_preferences": from_frame(test_preferences, Preference)}
    card = cards.dataset_card(
        dataset_hub.repo_id, splits, raw_files.to_dict(orient="records"), curation_summary,
        _effective_settings(run), {"name": run.name, "id": str(run.id), "pipeline": run.pipeline.name},
        dataset_hub.pretty_name, dataset_hub.description, dataset_hub.license)
    folder = hub_core.dataset_folder(step_folder("tuneline-hub-data-"), splits, card)
    pushed = hub_core.upload(folder, dataset_hub.repo_id, token, dataset_hub.private,
                             dataset_hub.endpoint, f"tuneline: dataset from run {run.name}",
                             repo_type="dataset")
    result = {"pushed": True, "files": sorted(str(p.relative_to(folder)) for p in folder.rglob("*")
                                              if p.is_file()),
              "rows": {k: len(v) for k, v in splits.items()}, **pushed}
    log_metadata(metadata={"dataset_push": result})
    return result
