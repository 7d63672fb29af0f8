from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated

from zenml import get_step_context, log_metadata, step
from zenml.client import Client

from tuneline import hub as hub_core
from tuneline.params import HubParams


@step(enable_cache=False)  # an upload is a side effect: never replay it from the cache
def push_to_hub(
    promotion_decision: dict, sft_adapter: Path, dpo_adapter: Path, base_model: str,
    hub: HubParams = HubParams(),
) -> Annotated[dict, "hub_push"]:
    """Upload the model (merged 16-bit or one adapter) and its card, when a repo is set."""
    if hub.repo_id is None:
        return {"pushed": False, "reason": "no hub.repo_id configured"}
    if hub.only_if_promoted and not promotion_decision["promoted"]:
        return {"pushed": False, "reason": f"not promoted: {promotion_decision['reason']}"}
    token = hub_core.read_token(hub.token_env)  # before the slow part: fail fast
    model = get_step_context().model
    # read fresh: register_model wrote this version's metadata after the run started
    version = Client().get_model_version(model.name, model.id)
    record = {**version.run_metadata, "model": model.name, "version": version.number,
              "run": version.run_metadata.get("training_run", {}).get("name")}
    card = hub_core.model_card(hub.repo_id, record, hub.mode, hub.intended_use, hub.license)
    folder = hub_core.build_folder(Path(tempfile.mkdtemp(prefix="tuneline-hub-")), base_model,
                                   [sft_adapter, dpo_adapter], hub.mode, card)
    result = hub_core.upload(folder, hub.repo_id, token, hub.private, hub.endpoint,
                             f"tuneline: {model.name} version {version.number}")
    result = {"pushed": True, "mode": hub.mode,
              "files": sorted(p.name for p in folder.iterdir()), **result}
    log_metadata(metadata={"hub": result}, infer_model=True)
    return result
