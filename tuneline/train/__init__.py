"""Training entry points; `backend_for` is the one place a training backend is chosen."""

from __future__ import annotations

import importlib
from pathlib import Path

from tuneline.params import DPOParams, SFTParams, TrainParams


def backend_for(params: TrainParams) -> str:
    # "auto" resolves to the best backend this build has; TRL + PEFT runs everywhere.
    if params.backend in ("auto", "trl"):
        return "trl"
    raise ValueError(f"unknown train backend {params.backend!r}; expected auto or trl")


def _backend(params: TrainParams):
    # imported on use: a backend pulls in torch/TRL (and, on GPU, patches them)
    return importlib.import_module(f"tuneline.train.{backend_for(params)}_backend")


def train_sft(base_model: str, rows: list[dict], params: SFTParams, out_dir: Path) -> dict:
    """LoRA SFT on prompt/completion rows; the adapter is saved in `out_dir`. Returns metrics."""
    return _backend(params).sft(base_model, rows, params, out_dir)


def train_dpo(base_model: str, sft_adapter: Path, rows: list[dict], params: DPOParams,
              out_dir: Path) -> dict:
    """DPO with a fresh LoRA on the SFT model (reference = the SFT model itself)."""
    return _backend(params).dpo(base_model, sft_adapter, rows, params, out_dir)
