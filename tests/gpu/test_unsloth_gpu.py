"""The GPU path end to end with the product's own code: Unsloth SFT (packing) -> DPO -> merged
16-bit save, on a random-init small Llama; QLoRA. Skipped without a CUDA GPU. (Resuming from a
checkpoint is tested on CPU, with a kill -9, in tests/test_train.py.)

On a GPU host (see README, "GPU"): python -m pytest -q tests/gpu
"""

import os

import pytest

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def tokenizer_dir() -> str:
    # GPU hosts have no bundled model: point TUNELINE_TEST_TOKENIZER at a tokenizer folder
    if os.environ.get("TUNELINE_TEST_TOKENIZER"):
        return os.environ["TUNELINE_TEST_TOKENIZER"]
    from tuneline import models

    return models.resolve("bundled:smollm2-135m-instruct")


@pytest.fixture(scope="module")
def tiny_llama(tmp_path_factory):
    """A random-init Llama (the real architecture, small) with a real chat tokenizer."""
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    out = tmp_path_factory.mktemp("tiny-llama")
    tok = AutoTokenizer.from_pretrained(tokenizer_dir())
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=256, intermediate_size=688,
                      num_hidden_layers=4, num_attention_heads=4, num_key_value_heads=2,
                      max_position_embeddings=2048, bos_token_id=tok.bos_token_id,
                      eos_token_id=tok.eos_token_id, tie_word_embeddings=False)
    torch.manual_seed(0)
    LlamaForCausalLM(cfg).to(torch.bfloat16).save_pretrained(out)
    tok.save_pretrained(out)
    return str(out)


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
