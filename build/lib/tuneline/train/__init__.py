"""Training entry points; `backend_for` is the one place a training backend is chosen."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import sys
from pathlib import Path

from tuneline import models
from tuneline.params import DPOParams, SFTParams, TrainParams
from tuneline.train import distributed
from tuneline.train.common import cuda_available


def backend_for(params: TrainParams) -> str:
    """auto: Unsloth on a CUDA GPU when it is installed, else TRL + PEFT (runs everywhere).
    FSDP is TRL + PEFT's (through accelerate): Unsloth's kernels run one copy per GPU (DDP)."""
    fsdp = params.distributed.strategy == "fsdp"
    if params.backend == "trl":
        return "trl"
    if params.backend == "unsloth":
        if fsdp:
            raise RuntimeError("train backend 'unsloth' runs distributed.strategy ddp only; for "
                               "fsdp set backend: trl (or auto, which picks it)")
        if not cuda_available():
            raise RuntimeError("train backend 'unsloth' needs a CUDA GPU and none is visible: "
                               "set backend: trl (CPU) or run the step on a GPU step operator")
        if importlib.util.find_spec("unsloth") is None:
            raise RuntimeError("train backend 'unsloth' is not installed: pip install -e '.[gpu]' "
                               "and unsloth==2026.10.9 unsloth_zoo==2026.10.9 --no-deps (see Dockerfile)")
        return "unsloth"
    if params.backend == "auto":
        usable = cuda_available() and importlib.util.find_spec("unsloth") is not None
        return "unsloth" if usable and not fsdp else "trl"
    raise ValueError(f"unknown train backend {params.backend!r}; expected auto, trl or unsloth")


def needs_own_process(params: TrainParams, loaded=None) -> bool:
    """The trl backend in a process that has imported Unsloth (an earlier step of a pipeline on
    the local orchestrator): Unsloth rewrites TRL's trainers on import, and the rewritten ones
    ignore `peft_config`, so the run would train every weight. It trains in a fresh process."""
    loaded = sys.modules if loaded is None else loaded
    return backend_for(params) == "trl" and "unsloth" in loaded


def _backend(params: TrainParams):
    # imported on use: a backend pulls in torch/TRL (and unsloth patches them on import)
    name = backend_for(params)
    if name == "unsloth":
        from tuneline.train import unsloth_backend

        return unsloth_backend
    from tuneline.train import trl_backend

    return trl_backend


def run_dir(kind: str, base_model: str, rows: list[dict], params: TrainParams,
            after: Path | None = None) -> Path:
    """Where a training run keeps its checkpoints: the same folder for the same base model,
    data, hyperparameters (and, for DPO, SFT adapter), so a re-run after a crash resumes.

    The number of DDP processes is not part of it: an optimizer step is the same examples
    on any number (`distributed.rank_batch`), so a run cut short on 4 GPUs resumes on 2.
    FSDP checkpoints are sharded by world size, so they are."""
    hp = params.model_dump()
    if params.distributed.strategy == "ddp":
        hp.pop("distributed")
    digest = hashlib.sha256(json.dumps([kind, base_model, rows, hp],
                                       sort_keys=True, default=str).encode())
    if after is not None:
        for f in sorted(Path(after).rglob("*")):
            if f.is_file():
                digest.update(f.read_bytes())
    return models.cache_dir() / "runs" / f"{kind}-{digest.hexdigest()[:16]}"


def train_sft(base_model: str, rows: list[dict], params: SFTParams, out_dir: Path) -> dict:
    """LoRA SFT on prompt/completion rows; the adapter is saved in `out_dir`. Returns metrics."""
    work = run_dir("sft", base_model, rows, params)
    if distributed.is_distributed(params.distributed) or needs_own_process(params):
        return distributed.launch("sft", {"base_model": base_model, "rows": rows,
                                          "work": str(work)}, params, out_dir)
    return run_sft(base_model, rows, params, out_dir, work)


def run_sft(base_model: str, rows: list[dict], params: SFTParams, out_dir: Path, work: Path) -> dict:
    """SFT in this process (or one torchrun rank): the backend's trainer, trained and saved."""
    from tuneline.train.common import train_and_save

    trainer, tracking, attention = _backend(params).sft_trainer(base_model, rows, params, work)
    return train_and_save(trainer, params, work, out_dir, len(rows), tracking, attention)


def save_merged(base_model: str, adapters: list[Path], out: Path,
                params: TrainParams | None = None) -> Path:
    """Base + adapters (in order) merged into one 16-bit model folder with its tokenizer.

    Always PEFT's exact merge into the 16-bit base weights, on any device: the same as
    Unsloth's merged_16bit, also for adapters trained on a 4-bit (QLoRA) base."""
    from tuneline.train import trl_backend

    return trl_backend.save_merged(base_model, adapters, out, params or TrainParams())


def train_dpo(base_model: str, sft_adapter: Path, rows: list[dict], params: DPOParams,
              out_dir: Path) -> dict:
    """DPO with a fresh LoRA on the SFT model (reference = the SFT model itself)."""
    work = run_dir("dpo", base_model, rows, params, after=sft_adapter)
    if distributed.is_distributed(params.distributed) or needs_own_process(params):
        return distributed.launch("dpo", {"base_model": base_model, "rows": rows,
                                          "sft_adapter": str(sft_adapter), "work": str(work)},
                                  params, out_dir)
    return run_dpo(base_model, sft_adapter, rows, params, out_dir, work)


def run_dpo(base_model: str, sft_adapter: Path, rows: list[dict], params: DPOParams,
            out_dir: Path, work: Path) -> dict:
    """DPO in this process (or one torchrun rank): the backend's trainer, trained and saved."""
    from tuneline.train.common import train_and_save

    trainer, tracking, attention = _backend(params).dpo_trainer(base_model, sft_adapter, rows,
                                                                params, work)
    return train_and_save(trainer, params, work, out_dir, len(rows), tracking, attention)
