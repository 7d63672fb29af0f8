"""TRL + PEFT (LoRA) training; runs on CPU, and on GPU without Unsloth."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tuneline import models
from tuneline.params import DPOParams, SFTParams, TrainParams
from tuneline.train.trl_compat import ensure_loss_kernel


def _common_args(params: TrainParams, out_dir: Path) -> dict[str, Any]:
    # Every hyperparameter explicit: defaults differ between TRL versions (and after
    # `import unsloth`), and a run must mean the same thing wherever it runs.
    return dict(
        output_dir=str(out_dir / "checkpoints"),
        learning_rate=params.learning_rate,
        num_train_epochs=params.epochs,
        max_steps=params.max_steps,
        per_device_train_batch_size=params.batch_size,
        gradient_accumulation_steps=params.grad_accum,
        warmup_steps=params.warmup,
        weight_decay=params.weight_decay,
        lr_scheduler_type=params.lr_scheduler,
        optim=params.optimizer,
        seed=params.seed,
        data_seed=params.seed,
        max_length=params.max_length,
        logging_steps=params.logging_steps,
        save_strategy="no",
        report_to="none",
        bf16=False,
        fp16=False,
        dataloader_pin_memory=False,
        disable_tqdm=False,
    )


def _lora(params: TrainParams):
    from peft import LoraConfig

    return LoraConfig(r=params.lora.r, lora_alpha=params.lora.alpha, lora_dropout=params.lora.dropout,
                      target_modules=params.lora.target_modules, task_type="CAUSAL_LM")


def load_model(base_model: str, adapters: list[Path] = ()):
    """Base model with each adapter merged in order (SFT, then DPO), and its tokenizer."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = models.resolve(base_model)
    tok = AutoTokenizer.from_pretrained(path)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    dtype = torch.bfloat16 if torch.cuda.is_available() else torch.float32
    model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype)
    for adapter in adapters:
        model = PeftModel.from_pretrained(model, str(adapter)).merge_and_unload()
    return model, tok


def _finish(trainer, out_dir: Path, n_rows: int) -> dict:
    result = trainer.train()
    trainer.model.save_pretrained(str(out_dir / "adapter"))
    history = [h for h in trainer.state.log_history if "loss" in h]
    return {
        "train_loss": float(result.training_loss),
        "final_step_loss": float(history[-1]["loss"]) if history else None,
        "steps": int(result.global_step),
        "runtime_s": round(float(result.metrics.get("train_runtime", 0.0)), 2),
        "examples": n_rows,
        "loss_curve": [round(float(h["loss"]), 4) for h in history],
    }


def sft(base_model: str, rows: list[dict], params: SFTParams, out_dir: Path) -> dict:
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    ensure_loss_kernel()
    model, tok = load_model(base_model)
    args = SFTConfig(**_common_args(params, out_dir), packing=False, completion_only_loss=True)
    trainer = SFTTrainer(model=model, args=args, train_dataset=Dataset.from_list(rows),
                         processing_class=tok, peft_config=_lora(params))
    return _finish(trainer, out_dir, len(rows))


def dpo(base_model: str, sft_adapter: Path, rows: list[dict], params: DPOParams, out_dir: Path) -> dict:
    from datasets import Dataset
    from trl import DPOConfig, DPOTrainer

    ensure_loss_kernel()
    model, tok = load_model(base_model, [sft_adapter])
    args = DPOConfig(**_common_args(params, out_dir), beta=params.beta)
    # ref_model=None with a PEFT adapter: TRL scores the reference with the adapter disabled,
    # i.e. with the merged SFT model, so no second copy of the weights is held.
    trainer = DPOTrainer(model=model, ref_model=None, args=args,
                         train_dataset=Dataset.from_list(rows), processing_class=tok,
                         peft_config=_lora(params))
    return _finish(trainer, out_dir, len(rows))
