from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pandas as pd
from zenml import log_metadata, step

from tuneline import train
from tuneline.params import DPOParams, SFTParams
from tuneline.records import Pair, Preference, from_frame
from tuneline.train import formats
from tuneline_steps._common import code_of, step_folder

# Both training steps rerun when the training core they call changes (both backends).
TRAINING_CODE = code_of(train, formats)


@step(cache_policy=TRAINING_CODE)
def sft(
    train_pairs: pd.DataFrame, base_model: str, system_prompt: str, sft: SFTParams = SFTParams()
) -> Annotated[Path, "sft_adapter"]:
    """Supervised fine-tuning with LoRA on every assistant turn; returns the adapter folder."""
    out = step_folder("tuneline-sft-")
    rows = formats.sft_rows(from_frame(train_pairs, Pair), system_prompt)
    metrics = train.train_sft(base_model, rows, sft, out)
    log_metadata(metadata={"sft": {**metrics, "base_model": base_model,
                                   "backend": train.backend_for(sft),
                                   "hyperparameters": sft.model_dump()}})
    return out / "adapter"


@step(cache_policy=TRAINING_CODE)
def dpo(
    train_preferences: pd.DataFrame, sft_adapter: Path, base_model: str, system_prompt: str,
    dpo: DPOParams = DPOParams()
) -> Annotated[Path, "dpo_adapter"]:
    """Direct preference optimisation on the SFT model; returns the DPO adapter folder."""
    out = step_folder("tuneline-dpo-")
    rows = formats.dpo_rows(from_frame(train_preferences, Preference), system_prompt)
    if not rows:
        raise ValueError("DPO needs preference pairs, and the train split has none: lower "
                         "preference.min_margin or curate more data")
    metrics = train.train_dpo(base_model, sft_adapter, rows, dpo, out)
    log_metadata(metadata={"dpo": {**metrics, "backend": train.backend_for(dpo),
                                   "hyperparameters": dpo.model_dump()}})
    return out / "adapter"
