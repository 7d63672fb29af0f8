"""TRL + PEFT (LoRA) training; runs on CPU, and on GPU without Unsloth."""

from __future__ import annotations

from pathlib import Path

from tuneline import models
from tuneline.params import DPOParams, SFTParams, TrainParams
from tuneline.train import formats, packing, reference
from tuneline.train.common import cuda_available, trainer_args
from tuneline.train.scoping import during_calls
from tuneline.train.trl_compat import accept_cpu_device_index, loss_kernel


def _check(params: TrainParams) -> None:
    if params.load_in_4bit:
        raise ValueError("load_in_4bit (QLoRA) needs the unsloth backend on a CUDA GPU; the trl "
                         "backend trains 16/32-bit LoRA")


def _lora(params: TrainParams):
    from peft import LoraConfig

    return LoraConfig(r=params.lora.r, lora_alpha=params.lora.alpha, lora_dropout=params.lora.dropout,
                      use_rslora=params.lora.rslora, target_modules=params.lora.target_modules,
                      task_type="CAUSAL_LM")


def _has_lora(trainer):
    """The trainer trains the LoRA adapter, not every weight (a TRL patched by `import unsloth`
    drops `peft_config`; `train.needs_own_process` keeps such runs out of that process)."""
    from peft import PeftModel

    if not isinstance(trainer.model, PeftModel):
        raise RuntimeError(f"the trl backend's {type(trainer).__name__} was built without its LoRA "
                           "adapter (TRL's trainers were rewritten by `import unsloth` in this "
                           "process) and would train every weight")
    return trainer


def load_model(base_model: str, adapters: list[Path] = (), device: str | None = None,
               attention: str | None = None):
    """Base model with each adapter merged in order (SFT, then DPO), and its tokenizer; on
    `device` (auto | cpu | cuda[:N]) when given, else left on the CPU for a Trainer to place;
    `attention`: a transformers attn_implementation (default: the model's)."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if attention == packing.FLEX:
        packing.register_transformers_flex()
    path = models.resolve(base_model)
    tok = AutoTokenizer.from_pretrained(path)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    target = models.device_for(device) if device is not None else None
    gpu = target.startswith("cuda") if target else torch.cuda.is_available()
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.bfloat16 if gpu else torch.float32,
                                                 **({"attn_implementation": attention} if attention else {}))
    for adapter in adapters:
        model = PeftModel.from_pretrained(model, str(adapter)).merge_and_unload()
    if target is not None:
        model = model.to(target)
    return model, tok


def sft_trainer(base_model: str, rows: list[dict], params: SFTParams, work: Path):
    """The SFTTrainer a run trains with, its tracking info and the attention packed rows use."""
    from trl import SFTConfig, SFTTrainer

    _check(params)
    accept_cpu_device_index()
    padding_free = params.packing and params.packing_strategy == "bfd"
    attention = packing.attn_implementation(padding_free, params.packed_attention)
    model, tok = load_model(base_model, attention=attention)
    args, tracking = trainer_args(params, work, f"sft-{work.name}", gpu=cuda_available())
    config = SFTConfig(**args, packing=params.packing, packing_strategy=params.packing_strategy,
                       completion_only_loss=True)
    trainer = SFTTrainer(model=model, args=config, train_dataset=formats.trainer_dataset(rows, tok),
                         processing_class=tok, peft_config=_lora(params))
    during_calls(trainer, loss_kernel)
    return _has_lora(trainer), tracking, attention


def dpo_trainer(base_model: str, sft_adapter: Path, rows: list[dict], params: DPOParams, work: Path):
    """The DPOTrainer a run trains with (its decoder padding-free when `packing`), tracking, attention."""
    from datasets import Dataset
    from trl import DPOConfig, DPOTrainer

    _check(params)
    accept_cpu_device_index()
    attention = packing.attn_implementation(params.packing, params.packed_attention)
    model, tok = load_model(base_model, [sft_adapter], attention=attention)
    args, tracking = trainer_args(params, work, f"dpo-{work.name}", gpu=cuda_available())
    config = DPOConfig(**args, beta=params.beta)
    # ref_model=None with a PEFT adapter: TRL scores the reference with the adapter disabled,
    # i.e. with the merged SFT model, so no second copy of the weights is held.
    trainer = DPOTrainer(model=model, ref_model=None, args=config,
                         train_dataset=Dataset.from_list(rows), processing_class=tok,
                         peft_config=_lora(params))
    _has_lora(trainer)
    during_calls(trainer, loss_kernel)
    reference.setup(trainer)
    if params.packing:
        packing.padding_free_backbone(trainer.model, share_prompts=attention == packing.FLEX)
    return trainer, tracking, attention


def save_merged(base_model: str, adapters: list[Path], out: Path, params: TrainParams) -> Path:
    import torch

    model, tok = load_model(base_model, adapters)
    model.to(torch.bfloat16).save_pretrained(str(out))
    tok.save_pretrained(str(out))
    return out
