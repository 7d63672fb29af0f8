"""The GPU path end to end with the product's own code: Unsloth SFT (packing) -> DPO -> merged
16-bit save, on a random-init small Llama; QLoRA. Skipped without a CUDA GPU. (Resuming from a
checkpoint is tested on CPU, with a kill -9, in tests/test_train.py.)

On a GPU host (see README, "GPU"): python -m pytest -q tests/gpu
"""

import pytest

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def rows(n: int) -> list[dict]:
    return [{"prompt": [{"role": "user", "content": f"Explain item {i} of the LoRA checklist."}],
             "completion": [{"role": "assistant", "content": " ".join(
                 f"Item {i} says rank {i % 8 + 1} adapters train fast." for _ in range(1 + i % 5))}]}
            for i in range(n)]


def prefs(n: int) -> list[dict]:
    return [{"prompt": r["prompt"], "chosen": r["completion"],
             "rejected": [{"role": "assistant", "content": "I do not know."}]} for r in rows(n)]


def test_unsloth_sft_dpo_and_merged_save(tiny_llama, tmp_path):
    from tuneline import train
    from tuneline.params import DPOParams, SFTParams
    from tuneline.train import trl_backend

    sft = SFTParams(max_steps=8, batch_size=4, max_length=256, packing=True, checkpoint_every=4)
    assert train.backend_for(sft) == "unsloth"
    m1 = train.train_sft(tiny_llama, rows(64), sft, tmp_path / "sft")
    assert m1["steps"] == 8 and m1["train_loss"] > 0 and m1["tokens_per_s"] > 0
    assert (tmp_path / "sft/adapter/adapter_model.safetensors").exists()

    dpo = DPOParams(max_steps=4, batch_size=2, max_length=256, beta=0.1)
    m2 = train.train_dpo(tiny_llama, tmp_path / "sft/adapter", prefs(16), dpo, tmp_path / "dpo")
    assert m2["steps"] == 4 and m2["train_loss"] > 0

    adapters = [tmp_path / "sft/adapter", tmp_path / "dpo/adapter"]
    merged = train.save_merged(tiny_llama, adapters, tmp_path / "merged", sft)
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(merged, dtype=torch.bfloat16).cuda()
    reference, _ = trl_backend.load_model(tiny_llama, adapters)
    ids = torch.tensor([[1, 504, 3458, 282, 253, 1345, 28, 2]], device="cuda")
    with torch.no_grad():
        got, want = model(ids).logits.float(), reference.cuda()(ids).logits.float()
    assert (got - want).abs().max() < 0.05 * want.abs().max()


def test_qlora_trains_in_4bit(tiny_llama, tmp_path):
    from tuneline import train
    from tuneline.params import SFTParams

    m = train.train_sft(tiny_llama, rows(16), SFTParams(max_steps=3, batch_size=4, max_length=256,
                                                        load_in_4bit=True), tmp_path)
    assert m["steps"] == 3 and m["train_loss"] > 0


def test_trl_backend_after_import_unsloth_still_trains_only_its_lora_adapter(tiny_llama, tmp_path):
    # `import unsloth` rewrites TRL's trainers (they ignore peft_config): a trl run in such a
    # process, as after an Unsloth step on the local orchestrator, trains in a fresh one
    import unsloth  # noqa: F401

    from tuneline import train
    from tuneline.params import DPOParams, SFTParams

    sft = SFTParams(backend="trl", max_steps=2, batch_size=4, max_length=256)
    assert train.needs_own_process(sft)
    m1 = train.train_sft(tiny_llama, rows(16), sft, tmp_path / "sft")
    dpo = DPOParams(backend="trl", max_steps=2, batch_size=2, max_length=256)
    m2 = train.train_dpo(tiny_llama, tmp_path / "sft/adapter", prefs(8), dpo, tmp_path / "dpo")
    for m, folder in ((m1, "sft"), (m2, "dpo")):
        # tiny_llama has ~28M weights (its embeddings alone 25M); its LoRA adapter ~0.3M
        assert m["steps"] == 2 and 0 < m["trainable_parameters"] < 1e6, m
        assert (tmp_path / folder / "adapter" / "adapter_config.json").exists()
