"""GPU test fixtures: a random-init small Llama with a real chat tokenizer."""

import os

import pytest

torch = pytest.importorskip("torch")


def tokenizer_dir() -> str:
    # GPU hosts have no bundled model: point TUNELINE_TEST_TOKENIZER at a tokenizer folder
    if os.environ.get("TUNELINE_TEST_TOKENIZER"):
        return os.environ["TUNELINE_TEST_TOKENIZER"]
    from tuneline import models

    return models.resolve("bundled:smollm2-135m-instruct")


def random_llama(out, hidden: int, layers: int) -> str:
    """A random-init Llama of the real architecture with a real chat tokenizer, saved in `out`."""
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tok = AutoTokenizer.from_pretrained(tokenizer_dir())
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=hidden, intermediate_size=hidden * 11 // 4,
                      num_hidden_layers=layers, num_attention_heads=hidden // 64,
                      num_key_value_heads=hidden // 128,
                      max_position_embeddings=2048, bos_token_id=tok.bos_token_id,
                      eos_token_id=tok.eos_token_id, tie_word_embeddings=False)
    torch.manual_seed(0)
    LlamaForCausalLM(cfg).to(torch.bfloat16).save_pretrained(out)
    tok.save_pretrained(out)
    return str(out)


@pytest.fixture(scope="module")
def tiny_llama(tmp_path_factory):
    """Small: 4 layers of width 256."""
    return random_llama(tmp_path_factory.mktemp("tiny-llama"), hidden=256, layers=4)


@pytest.fixture(scope="module")
def wide_llama(tmp_path_factory):
    """8 layers of width 1024: at 4 x 2048 tokens its layers' activations outweigh the logits,
    as in the models people train (the tiny one's peak is its logits)."""
    return random_llama(tmp_path_factory.mktemp("wide-llama"), hidden=1024, layers=8)


def pytest_collection_modifyitems(config, items):
    """Every trl-backend test first: `import unsloth` rewrites TRL's trainers for the rest of
    the process, and the trl backend refuses to build a trainer there (`trl_backend._has_lora`;
    a real run trains in a fresh process, `train.needs_own_process`)."""
    def unsloth_free_first(item):
        params = getattr(getattr(item, "callspec", None), "params", {})
        return 0 if params.get("backend") == "trl" else 1

    items.sort(key=unsloth_free_first)  # stable: the order within each group stays
