"""LoRA adapters combined into one: exact arithmetic, no merge into the weights."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from tuneline import models


def combine_adapters(base_model: str, adapters: list[Path], out: Path, base_name: str) -> None:
    """One LoRA adapter equal to applying `adapters` in order.

    Each adapter adds scale_i * B_i A_i to a weight, and the sum of these is the low-rank product
    of the concatenated factors, so PEFT's "cat" combination is exact (rank = sum of ranks).
    The DPO adapter was trained on the SFT-merged model, but its update is the same additive term.
    """
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    out.mkdir(parents=True, exist_ok=True)
    base = AutoModelForCausalLM.from_pretrained(models.resolve(base_model))
    names = [f"a{i}" for i in range(len(adapters))]
    model = PeftModel.from_pretrained(base, str(adapters[0]), adapter_name=names[0])
    for name, path in zip(names[1:], adapters[1:]):
        model.load_adapter(str(path), adapter_name=name)
    model.add_weighted_adapter(names, [1.0] * len(names), "combined", combination_type="cat")
    with tempfile.TemporaryDirectory() as tmp:
        model.save_pretrained(tmp, selected_adapters=["combined"])
        # PEFT saves a non-default adapter in a subfolder named after it
        for f in (Path(tmp) / "combined").iterdir():
            if f.name != "README.md":  # PEFT's placeholder card; ours is written after
                shutil.move(str(f), out / f.name)
    config = json.loads((out / "adapter_config.json").read_text())
    config["base_model_name_or_path"] = base_name  # the name users load it with (a Hub id)
    # PEFT gives the combination the first adapter's settings with alpha = r; the source
    # scalings are already inside the concatenated factors, so the combination's own scaling
    # must be exactly 1, which rsLoRA (alpha / sqrt(r)) would break
    config["use_rslora"], config["lora_alpha"] = False, config["r"]
    (out / "adapter_config.json").write_text(json.dumps(config, indent=2))
