"""Unsloth LoRA / QLoRA training on a CUDA GPU: same rows, parameters and outputs as the TRL
backend (an adapter folder), with Unsloth's kernels, packing and offloaded checkpointing.

`import unsloth` patches transformers, PEFT and TRL, so it happens inside these functions,
never at module import; after it, TRL's config defaults change (learning rate, gradient
accumulation, optimizer), which is why every hyperparameter is passed explicitly.
"""

from __future__ import annotations

from pathlib import Path

from tuneline import models
from tuneline.params import DPOParams, SFTParams, TrainParams
from tuneline.train import checkpointing, formats, packing, reference, unsloth_packing
from tuneline.train.common import trainer_args

# "all-linear" for Llama-family models: every attention and MLP projection
ALL_LINEAR = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
# how a checkpointed layer keeps its input until backward: "unsloth" = in pinned CPU memory
# (Unsloth's offloaded variant), True = on the GPU (torch's). Offloading stays: on an H200, 8B
# shape, the GPU variant ran SFT steps no faster and packed DPO 1.09x (median of 3 rounds), for
# memory that grows with the step's tokens (docs/gpu.md; benchmarks/gpu_train.py compares them)
CHECKPOINTING = "unsloth"


def chat_template(tok):
    """The model's own template for instruct models; ChatML for base models that have none."""
    if tok.chat_template:
        return tok
    from unsloth.chat_templates import get_chat_template

    return get_chat_template(tok, chat_template="chatml")


def load(base_model: str, params: TrainParams, padding_free: bool, adapter: Path | None = None):
    """FastLanguageModel (16-bit, or 4-bit for QLoRA) with a fresh LoRA on top; with `adapter`,
    that adapter is merged into the base first (DPO trains on the SFT model). Returns the model,
    its tokenizer and the attention packed rows run with."""
    import unsloth  # noqa: F401  (first: it patches the libraries below)
    from unsloth import FastLanguageModel

    from tuneline.train import distributed

    recompute = CHECKPOINTING if checkpointing.enabled(params.gradient_checkpointing) else False
    # DDP: each torchrun process holds its copy on its own GPU
    place = {"device_map": {"": f"cuda:{distributed.local_rank()}"}} if distributed.launched() else {}
    model, tok = FastLanguageModel.from_pretrained(
        models.resolve(base_model), max_seq_length=params.max_length, dtype=None, **place,
        load_in_4bit=params.load_in_4bit, load_in_16bit=not params.load_in_4bit,
        full_finetuning=False, random_state=params.seed,
        use_gradient_checkpointing=recompute)
    if adapter is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, str(adapter)).merge_and_unload()
    lora = params.lora
    model = FastLanguageModel.get_peft_model(
        model, r=lora.r, lora_alpha=lora.alpha, lora_dropout=lora.dropout, bias="none",
        target_modules=ALL_LINEAR if lora.target_modules == "all-linear" else lora.target_modules,
        use_rslora=lora.rslora, random_state=params.seed, use_gradient_checkpointing=recompute)
    tok = chat_template(tok)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    attention = "unsloth"
    if padding_free and params.packed_attention == "flex":
        unsloth_packing.install_unsloth_flex()
        attention = "unsloth + flex_attention for packed rows"
    return model, tok, attention


def sft_trainer(base_model: str, rows: list[dict], params: SFTParams, work: Path):
    """The SFTTrainer a run trains with, its tracking info and the attention packed rows use."""
    model, tok, attention = load(base_model, params,
                                 padding_free=params.packing and params.packing_strategy == "bfd")
    from trl import SFTConfig, SFTTrainer

    args, tracking = trainer_args(params, work, f"sft-{work.name}", gpu=True)
    args["gradient_checkpointing"] = False  # Unsloth's own is set on the model
    config = SFTConfig(**args, packing=params.packing, packing_strategy=params.packing_strategy,
                       completion_only_loss=True, dataset_num_proc=1)
    trainer = SFTTrainer(model=model, args=config, train_dataset=formats.trainer_dataset(rows, tok),
                         processing_class=tok)
    return trainer, tracking, attention


def dpo_trainer(base_model: str, sft_adapter: Path, rows: list[dict], params: DPOParams, work: Path):
    """The DPOTrainer a run trains with (its decoder padding-free when `packing`), tracking, attention."""
    import os

    # read by unsloth_zoo when DPO's loss runs; the pairs/s gain is measured in
    # benchmarks/gpu_train.py
    os.environ["UNSLOTH_FUSED_PREFERENCE_LOSS"] = "1" if params.fused_preference_loss else "0"
    model, tok, attention = load(base_model, params, padding_free=params.packing,
                                 adapter=sft_adapter)
    from datasets import Dataset
    from trl import DPOConfig, DPOTrainer

    args, tracking = trainer_args(params, work, f"dpo-{work.name}", gpu=True)
    args["gradient_checkpointing"] = False  # Unsloth's own is set on the model
    config = DPOConfig(**args, beta=params.beta, dataset_num_proc=1)
    # ref_model=None: the reference is the policy with the LoRA disabled = the merged SFT model
    trainer = DPOTrainer(model=model, ref_model=None, args=config,
                         train_dataset=Dataset.from_list(rows), processing_class=tok)
    reference.setup(trainer)
    if params.packing:
        packing.padding_free_backbone(trainer.model,
                                      share_prompts=params.packed_attention == "flex")
    return trainer, tracking, attention
