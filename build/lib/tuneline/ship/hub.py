"""Publishing to the Hugging Face Hub: a registered model (folder, model card) and a curated
dataset (parquet splits, dataset card), and the upload.

The token is read from the environment at upload time and passed only to the HTTP client: it
is never written to the folder, the card, a log line or a return value.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from tuneline import patches
from tuneline.ship.cards import DATASET_FILES, data_files, gguf_card, hub_id
from tuneline.train.adapters import combine_adapters


def read_token(token_env: str) -> str:
    token = os.environ.get(token_env, "").strip()
    if not token:
        raise PermissionError(f"hub.repo_id is set but the environment variable {token_env} is "
                              "empty: export a Hugging Face write token under that name")
    return token


def build_folder(out: Path, base_model: str, adapters: list[Path], mode: str, card: str) -> Path:
    """Write what would be uploaded: merged 16-bit weights + tokenizer, or one adapter; README.md."""
    from tuneline import train

    out.mkdir(parents=True, exist_ok=True)
    if mode == "merged":
        train.save_merged(base_model, adapters, out)
    else:
        combine_adapters(base_model, adapters, out, hub_id(base_model) or base_model)
    (out / "README.md").write_text(card)
    return out


def upload(folder: Path, repo_id: str, token: str, private: bool, endpoint: str | None,
           message: str, repo_type: str = "model") -> dict:
    """Create the repo if needed and commit the folder; returns the commit's URL and id."""
    from huggingface_hub import HfApi, constants

    api = HfApi(endpoint=endpoint, token=token)
    # HF_HUB_OFFLINE (tuneline's default) keeps model *loading* off the network; a configured
    # push is an explicit request to reach the Hub, so it is allowed for these calls only.
    patches.check("hub-offline-flag")
    offline, constants.HF_HUB_OFFLINE = constants.HF_HUB_OFFLINE, False
    try:
        api.create_repo(repo_id, private=private, exist_ok=True, repo_type=repo_type)
        info = api.upload_folder(repo_id=repo_id, folder_path=str(folder), commit_message=message,
                                 repo_type=repo_type)
    finally:
        constants.HF_HUB_OFFLINE = offline
    return {"repo_id": repo_id, "commit_url": info.commit_url, "commit": info.oid,
            "endpoint": api.endpoint}


def gguf_folder(out: Path, gguf_files: Path, report: dict, repo_id: str, model_repo: str | None,
                base_model: str, record: dict, license: str | None) -> tuple[Path | None, dict]:
    """What goes to a -GGUF repo: the quants that passed their checks (tuneline/ship/gguf.py), their
    Ollama Modelfiles, a card. Returns the folder (None when no quant passed) and, for each
    quant left out, why."""
    from tuneline.ship import gguf

    ok = gguf.verified(report)
    skipped = {q["quant"]: q["failures"] for q in report.get("quants", []) if not q["verified"]}
    if not ok:
        return None, skipped
    out.mkdir(parents=True, exist_ok=True)
    for q in ok:
        for name in (q["file"], q["modelfile"]):
            shutil.copy(gguf_files / name, out / name)
    source = model_repo or f"{record.get('model')} version {record.get('version')}"
    (out / "README.md").write_text(
        gguf_card(repo_id, source, model_repo or hub_id(base_model), ok, record, license))
    return out, skipped


def dataset_rows(config: str, items: list) -> list[dict]:
    from tuneline.train import formats

    if config == "sft":
        return [{**row, "instruction": p.instruction, "answer": p.answer, "score": p.score,
                 "source": p.source, "pair_id": p.pair_id}
                for row, p in zip(formats.sft_rows(items), items)]
    return [{**row, "chosen_score": p.chosen_score, "rejected_score": p.rejected_score,
             "pair_id": p.pair_id} for row, p in zip(formats.dpo_rows(items), items)]


def dataset_folder(out: Path, splits: dict[str, list], card: str) -> Path:
    """The files of `data_files` as parquet, and README.md."""
    import pandas as pd

    for config, files in data_files(splits).items():
        (out / config).mkdir(parents=True, exist_ok=True)
        for f in files:
            items = splits[DATASET_FILES[config][f["split"]]]
            pd.DataFrame(dataset_rows(config, items)).to_parquet(out / f["path"], index=False)
    (out / "README.md").write_text(card)
    return out


