"""On a CUDA GPU the embedding encoder, the evaluated models and a local judge run on it with
the default `device: auto` (the CPU twin is tests/test_devices.py)."""

import pytest

from tests.gpu.conftest import tokenizer_dir

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@pytest.fixture(scope="module")
def tiny_encoder(tmp_path_factory):
    """A random-init MiniLM-shaped BERT as a sentence-transformers folder (GPU hosts have no
    bundled encoder; where a model runs does not depend on its weights)."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers import models as st
    from transformers import AutoTokenizer, BertConfig, BertModel

    out = tmp_path_factory.mktemp("encoder")
    tok = AutoTokenizer.from_pretrained(tokenizer_dir())
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    BertModel(BertConfig(vocab_size=len(tok), hidden_size=384, num_hidden_layers=2,
                         num_attention_heads=12, intermediate_size=1536)).save_pretrained(out / "bert")
    tok.save_pretrained(out / "bert")
    SentenceTransformer(modules=[st.Transformer(str(out / "bert")), st.Pooling(384)]).save(str(out / "st"))
    return str(out / "st")


def test_encoder_runs_on_the_gpu_by_default(tiny_encoder):
    from tuneline.curation.dedup import load_encoder
    from tuneline.params import EmbeddingParams

    encode = load_encoder(tiny_encoder, 8, EmbeddingParams().device)
    assert encode.device.startswith("cuda")
    assert encode(["one text", "another"]).shape == (2, 384)


def test_evaluated_models_and_local_judge_run_on_the_gpu_by_default(tiny_llama):
    from tuneline.llm import make_llm
    from tuneline.params import EvalParams, JudgeParams, LLMParams
    from tuneline.records import Pair
    from tuneline.ship import evaluate, general_check

    llm_params = LLMParams(model=tiny_llama, cache=False)
    params = EvalParams(max_examples=2, max_new_tokens=8)
    judge = make_llm(llm_params)
    assert judge.model.device.type == "cuda"
    test = [Pair(pair_id=f"p{i}", chunk_id="", source="t", instruction=f"What is item {i}?",
                 answer=f"Item {i} is a rank {i} adapter.") for i in range(2)]
    params = EvalParams(max_examples=2, max_new_tokens=8, general_prompts=3,
                        general_max_new_tokens=8)
    general, _ = general_check.load_prompts(None, params.general_prompts)
    metrics, rows = evaluate.evaluate_candidates([("base", tiny_llama, [])], evaluate.model_loader(
        {"base": tiny_llama}, llm_params, params), test, general, judge, JudgeParams(), params)
    assert metrics["base"]["device"].startswith("cuda") and len(rows) == 2 + 3
