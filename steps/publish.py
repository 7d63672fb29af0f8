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
    gguf_files: Path, gguf_report: dict, hub: HubParams = HubParams(),
) -> Annotated[dict, "hub_push"]:
    """Upload the model and its card, and the GGUF quants that passed their checks, to the Hub."""
    # hub.repo_id: merged 16-bit or one adapter; hub.gguf_repo_id: the verified quants, their
    # Ollama Modelfiles and a card
    if hub.repo_id is None and hub.gguf_repo_id is None:
        return {"pushed": False, "reason": "no hub.repo_id or hub.gguf_repo_id configured"}
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
        card = hub_core.model_card(hub.repo_id, record, hub.mode, hub.intended_use, hub.license)
        folder = hub_core.build_folder(Path(tempfile.mkdtemp(prefix="tuneline-hub-")), base_model,
                                       [sft_adapter, dpo_adapter], hub.mode, card)
        pushed = hub_core.upload(folder, hub.repo_id, token, hub.private, hub.endpoint, message)
        result = {"pushed": True, "mode": hub.mode,
                  "files": sorted(p.name for p in folder.iterdir()), **pushed}
    if hub.gguf_repo_id:
        folder, skipped = hub_core.gguf_folder(
            Path(tempfile.mkdtemp(prefix="tuneline-hub-gguf-")), gguf_files, gguf_report,
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
