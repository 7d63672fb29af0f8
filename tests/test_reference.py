"""DPO's reference forward (`tuneline.train.reference`): the policy with its LoRA off gives the
base model's outputs, as PEFT's `disable_adapter` does, and a run keeps the checkpointed layers
its policy chose (TRL's own context re-enabled every layer after the first step). On CPU with
TRL + PEFT: logits on the bundled SmolLM2, the DPO run on the tiny model (tests/tiny.py)."""

from pathlib import Path

import pytest

from tests import tiny
from tuneline.train import checkpointing, reference

BASE = "bundled:smollm2-135m-instruct"


@pytest.fixture(scope="module")
def adapted():
    """SmolLM2 with a LoRA whose B matrices are non-zero (a fresh one changes nothing)."""
    import torch
    from peft import LoraConfig, get_peft_model

    from tuneline.train import trl_backend

    torch.manual_seed(0)
    model, tok = trl_backend.load_model(BASE)
    model = get_peft_model(model, LoraConfig(r=4, target_modules="all-linear"))
    for name, p in model.named_parameters():
        if "lora_B" in name:
            p.data.normal_(0, 0.05)
    ids = tok("The archive is extracted with tar -x.", return_tensors="pt").input_ids
    return model.eval(), ids


def logits(model, ids):
    import torch

    with torch.no_grad():
        return model(input_ids=ids).logits


def test_adapters_off_gives_the_base_models_outputs_like_peft_disable_adapter(adapted):
    import torch

    model, ids = adapted
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    with_lora = logits(model, ids)
    with model.disable_adapter():
        peft_base = logits(model, ids)
    with reference.adapters_off(model):
        ours = logits(model, ids)
    assert not torch.allclose(with_lora, peft_base, atol=1e-3), "the LoRA changes the outputs"
    assert torch.equal(ours, peft_base)
    assert torch.equal(logits(model, ids), with_lora), "the adapter is back on afterwards"
    assert {n for n, p in model.named_parameters() if p.requires_grad} == trainable


def test_checkpointing_off_restores_each_layers_own_setting(adapted):
    model, _ = adapted
    layers = checkpointing.decoder_layers(model)
    checkpointing.set_layers(layers, 7)
    with reference.checkpointing_off(model):
        assert not any(layer.gradient_checkpointing for layer in layers)
    assert [layer.gradient_checkpointing for layer in layers] == [i < 7 for i in range(len(layers))]
    checkpointing.set_layers(layers, 0)


@pytest.mark.slow  # trains a model
def test_a_dpo_run_keeps_the_share_of_checkpointed_layers_its_policy_chose(tmp_path):
    from transformers import TrainerCallback

    from tests.test_packing import fresh_adapter, pref_rows
    from tuneline.params import DPOParams
    from tuneline.train import common, trl_backend

    params = DPOParams(max_steps=2, batch_size=2, max_length=128, gradient_checkpointing=0.5,
                       checkpoint_every=0)
    trainer, tracking, attention = trl_backend.dpo_trainer(
        tiny.path(), fresh_adapter(tiny.path(), tmp_path / "sft"), pref_rows(4), params,
        tmp_path / "work")
    seen = []

    class Count(TrainerCallback):
        def on_step_end(self, args, state, control, **kw):
            seen.append(sum(bool(layer.gradient_checkpointing)
                            for layer in checkpointing.decoder_layers(trainer.model)))

    trainer.add_callback(Count())
    metrics = common.train_and_save(trainer, params, tmp_path / "work", tmp_path / "out", 4,
                                    tracking, attention)
    half = tiny.LAYERS // 2
    assert metrics["gradient_checkpointing"]["checkpointed_layers"] == half
    assert seen == [half, half]
    assert Path(tmp_path / "out" / "adapter" / "adapter_config.json").exists()


def test_trls_untrained_ref_copy_is_dropped_and_the_reference_stays_the_same(tmp_path):
    # handed a PeftModel (as the Unsloth backend does), TRL adds a "ref" copy of its adapter;
    # a fresh LoRA's copy adds nothing, so the reference is the adapter switched off, exactly
    import torch
    from datasets import Dataset
    from peft import LoraConfig, get_peft_model
    from trl import DPOConfig, DPOTrainer
    from trl.trainer.utils import use_adapter

    from tests.test_packing import pref_rows
    from tuneline.train import trl_backend

    base, tok = trl_backend.load_model(BASE)
    model = get_peft_model(base, LoraConfig(r=4, target_modules="all-linear"))
    trainer = DPOTrainer(model=model, ref_model=None, processing_class=tok,
                         args=DPOConfig(output_dir=str(tmp_path), report_to=[], max_steps=1,
                                        bf16=False, use_cpu=True),
                         train_dataset=Dataset.from_list(pref_rows(2)))
    assert "ref" in trainer.model.peft_config
    ids = tok("Extract the archive with tar -x.", return_tensors="pt").input_ids
    with use_adapter(trainer.model, "ref"):
        trls = logits(trainer.model, ids)
    reference.setup(trainer)
    assert "ref" not in trainer.model.peft_config
    assert trainer.model.active_adapter == "default"
    with reference.adapters_off(trainer.model):
        ours = logits(trainer.model, ids)
    assert torch.equal(ours, trls)


def test_a_trained_ref_copy_is_kept(adapted):
    model, _ = adapted
    model.add_adapter("ref", model.peft_config["default"])
    for name, p in model.named_parameters():
        if ".ref." in name:
            p.data.copy_(model.get_parameter(name.replace(".ref.", ".default.")))
    try:
        assert reference.drop_untrained_copy(model) is False
        assert "ref" in model.peft_config
    finally:
        model.delete_adapter("ref")
