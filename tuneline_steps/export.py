from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated

import pandas as pd
from zenml import get_step_context, log_metadata, step

from tuneline import train
from tuneline.params import GGUFParams
from tuneline.records import Pair, from_frame, prompt_messages
from tuneline.ship import gguf as gguf_core
from tuneline.ship import gguf_probe
from tuneline_steps._common import code_of, step_folder


# gguf_probe runs in a child process: name it, the import closure does not reach it
@step(cache_policy=code_of(gguf_core, gguf_probe, train))
def export_gguf(
    sft_adapter: Path, dpo_adapter: Path, base_model: str, test_pairs: pd.DataFrame,
    system_prompt: str, gguf: GGUFParams = GGUFParams(),
) -> tuple[Annotated[Path, "gguf_files"], Annotated[dict, "gguf_report"]]:
    """GGUF quants for llama.cpp and Ollama, each checked in llama.cpp against the merged model."""
    out = step_folder("tuneline-gguf-")
    if not gguf.quants:
        return out, {"quants": [], "skipped": "gguf.quants is empty"}
    gguf_core.require()  # before the merge: a missing llama.cpp fails fast
    # the test split's conversations as the model will be prompted: their turns, their system
    # prompt or the configured one
    pairs = [{"prompt": prompt_messages(p, system_prompt), "answer": p.answer}
             for p in from_frame(test_pairs, Pair)[:gguf.check_examples]]
    if not pairs:
        raise ValueError("the GGUF checks need test pairs, and the test split is empty")
    model = get_step_context().model
    name = model.name if model else "model"
    with tempfile.TemporaryDirectory(prefix="tuneline-merged-") as tmp:
        merged = train.save_merged(base_model, [sft_adapter, dpo_adapter], Path(tmp) / "merged")
        report = gguf_core.export(merged, out, name, pairs, gguf, system_prompt)
    log_metadata(metadata={"gguf": {q["quant"]: q for q in gguf_core.summary(report)}})
    return out, report
