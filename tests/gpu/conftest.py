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
