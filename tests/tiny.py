"""A tiny random-weight model of the bundled model's architecture and tokenizer, for tests whose
assertions hold for any weights (a packed batch's loss equals its examples' one by one, a
merged adapter equals the adapters applied in order, a checkpoint resumes the same curve).

SmolLM2-135M trains at ~1-2 s a step on a 2-core CPU; this one (4 layers of width 64, the same
49,152-token vocabulary and chat template) at a few milliseconds, so such tests run in the fast
tier. Tests that need real weights (generation that stops, a judge, GGUF checks, a process
killed mid-training) keep the bundled model. Built once per machine in the model cache; seeded,
so every build is the same model.
"""

import fcntl
import shutil
from pathlib import Path

from tuneline import models

VERSION = 1  # bumped when the build below changes
LAYERS = 4


def path() -> str:
    """The tiny model's folder (built on first use): what a test passes as `base_model`."""
    out = models.cache_dir() / "models" / f"tiny-llama-test-v{VERSION}"
    if (out / "model.safetensors").exists():
        return str(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out.parent / ".tiny-llama-test.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # test processes started side by side build it once
        if not (out / "model.safetensors").exists():
            _build(Path(models.resolve(f"bundled:{models.SMOLLM2}")), out)
    return str(out)


def _build(real: Path, out: Path) -> None:
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    config = AutoConfig.from_pretrained(real)
    config.update({"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": LAYERS,
                   "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 16})
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp)
    for f in real.iterdir():  # tokenizer, chat template, generation config: the real model's
        if f.is_file() and not f.name.startswith(("model", "config")):
            shutil.copy(f, tmp / f.name)
    tmp.rename(out)
