"""Device placement is the backends' (`device: auto | cpu | cuda[:N]`): the embedding encoder,
the evaluated models and a local judge land where the step's hardware says. On CUDA the same
checks run in tests/gpu/test_devices_gpu.py."""

import pytest
from pydantic import ValidationError

from tuneline import models
from tuneline.curation.dedup import load_encoder
from tuneline.llm import make_llm
from tuneline.params import EmbeddingParams, EvalParams, LLMParams
from tuneline.ship import evaluate

BASE = "bundled:smollm2-135m-instruct"
torch = pytest.importorskip("torch")
cpu_only = pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU-only machine")


def test_every_device_setting_defaults_to_auto_and_rejects_unknown_values():
    assert EmbeddingParams().device == EvalParams().device == LLMParams().device == "auto"
    for bad in ("gpu", "cuda0", "mps:x"):
        with pytest.raises(ValidationError, match="should match pattern"):
            EmbeddingParams(device=bad)
    EvalParams(device="cuda:1")


@cpu_only
def test_auto_is_the_cpu_here_and_an_explicit_cuda_says_why_not():
    assert models.device_for("auto") == "cpu"
    with pytest.raises(RuntimeError, match="'cuda:0' asked for and no CUDA GPU is visible"):
        models.device_for("cuda:0")


@cpu_only
def test_encoder_evaluated_models_and_local_judge_load_on_the_cpu_without_a_gpu():
    encode = load_encoder("bundled:all-minilm-l6-v2", batch_size=8, device=EmbeddingParams().device)
    assert encode.device == "cpu" and encode(["a sentence"]).shape == (1, 384)
    load = evaluate.model_loader({"base": BASE}, LLMParams(), EvalParams())
    llm, model, _ = load("base", [])
    assert model.device.type == "cpu" and llm.model is model
    assert make_llm(LLMParams(cache=False)).model.device.type == "cpu"
