"""GGUF export for llama.cpp, Ollama and LM Studio, and the checks a quant must pass first.

Conversion is llama.cpp's own `convert_hf_to_gguf.py` (with its `gguf-py`), taken from the
llama-cpp-python source distribution at setup; quantization is llama.cpp's
`llama_model_quantize`. Nothing is downloaded at run time.

What goes wrong with GGUF exports in the wild is rarely the weights: it is the chat template or
the end-of-turn token lost in conversion, so the quant never stops or answers to a prompt it was
not trained on. Each quant is therefore run in llama.cpp (tuneline/ship/gguf_probe.py, in its own
process) and checked against the merged HF model it came from:
- template: the GGUF's embedded template, rendered and tokenized as llama-cpp-python's server
  does, gives exactly the token ids of the HF tokenizer's template, for every test prompt and a
  multi-turn conversation with a system prompt;
- stop: the GGUF's end-of-generation tokens include the model's EOS ids, and at the end of
  every reply the merged model ends on EOS within the token budget, the quant gives EOS at least
  a set share of the merged model's probability, on that same text (free generation of two
  near-equal models drifts apart at the first near-tie, so comparing free runs would test
  chaos, not the export); generation through llama.cpp's chat endpoint is run and reported;
- quality: answer cross-entropy on the test split within a tolerance of the merged model's,
  and the share of answer tokens whose greedy choice is the same where the merged model's is
  clear.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from tuneline.documents.ingest import file_sha256
from tuneline.ship.chat_template import hf_render, modelfile
from tuneline.ship.quant_checks import check, probe, reference

# tuneline quant name -> llama.cpp file type (llama_cpp.LLAMA_FTYPE_MOSTLY_*)
FTYPES = {"f16": "F16", "bf16": "BF16", "q8_0": "Q8_0", "q6_k": "Q6_K", "q5_k_m": "Q5_K_M",
          "q5_0": "Q5_0", "q4_k_m": "Q4_K_M", "q4_0": "Q4_0", "q3_k_m": "Q3_K_M", "q2_k": "Q2_K"}
CONVERTER_ENV = "TUNELINE_LLAMA_CPP"
REFERENCE_FILE = "reference.json"


def converter_dir() -> Path:
    """llama.cpp's converter: $TUNELINE_LLAMA_CPP (a llama.cpp checkout), else what
    scripts/install-llama-cpp.sh extracted into the environment (<prefix>/share/llama.cpp)."""
    root = Path(os.environ.get(CONVERTER_ENV) or Path(sys.prefix) / "share" / "llama.cpp")
    if not (root / "convert_hf_to_gguf.py").is_file():
        raise FileNotFoundError(
            f"llama.cpp's convert_hf_to_gguf.py is not in {root}: scripts/install-llama-cpp.sh "
            "(run by `make quickstart` and `make test`) extracts it from the llama-cpp-python "
            f"source distribution, or set {CONVERTER_ENV} to a llama.cpp checkout; set "
            "gguf.quants: [] to skip the GGUF export")
    return root


def require() -> None:
    """Fail before any slow work when llama.cpp (library or converter) is not installed."""
    import importlib.util

    converter_dir()
    if importlib.util.find_spec("llama_cpp") is None:
        raise FileNotFoundError(
            "llama-cpp-python is not installed: scripts/install-llama-cpp.sh (run by `make "
            "quickstart` and `make test`) builds it; set gguf.quants: [] to skip the GGUF export")


def convert(hf_dir: Path, out: Path, outtype: str = "bf16") -> Path:
    """HF model folder -> one unquantized GGUF (bf16: the merged weights' own precision)."""
    script = converter_dir() / "convert_hf_to_gguf.py"
    proc = subprocess.run([sys.executable, str(script), str(hf_dir), "--outfile", str(out),
                           "--outtype", outtype], capture_output=True, text=True,
                          env={**os.environ, "HF_HUB_OFFLINE": "1"})
    if proc.returncode != 0 or not out.is_file():
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-8:])
        raise RuntimeError(f"convert_hf_to_gguf.py failed on {hf_dir} (exit {proc.returncode}):\n{tail}")
    return out


def quantize(src: Path, dst: Path, quant: str, threads: int | None = None) -> Path:
    import ctypes

    import llama_cpp

    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = getattr(llama_cpp, f"LLAMA_FTYPE_MOSTLY_{FTYPES[quant]}")
    params.nthread = threads or os.cpu_count() or 1
    rc = llama_cpp.llama_model_quantize(str(src).encode(), str(dst).encode(), ctypes.byref(params))
    if rc != 0 or not dst.is_file():
        raise RuntimeError(f"llama_model_quantize {src.name} -> {quant} failed (return code {rc})")
    return dst


def export(hf_dir: Path, out_dir: Path, name: str, pairs: list[dict], params,
           system: str = "") -> dict:
    """Convert once, then per quant type: quantize, run in llama.cpp, check, write a Modelfile.
    `pairs`: test conversations ({"prompt": chat messages up to the last user turn, "answer"});
    `params` is a GGUFParams; `system`: the system prompt the model was trained with, the
    Modelfile's SYSTEM. Returns the report (also written as report.json in `out_dir`); a quant
    that fails stays in the folder, marked unverified with its reasons."""
    import time

    from transformers import AutoTokenizer

    out_dir.mkdir(parents=True, exist_ok=True)
    report = {"name": name, "examples": len(pairs), "quants": []}
    with tempfile.TemporaryDirectory(prefix="tuneline-gguf-") as tmp:
        t = time.monotonic()
        source = convert(hf_dir, Path(tmp) / f"{name}-bf16-source.gguf")
        report["convert_s"] = round(time.monotonic() - t, 2)
        t = time.monotonic()
        ref = reference(hf_dir, pairs, params.max_new_tokens, system)
        report["reference_s"] = round(time.monotonic() - t, 2)
        # what every quant was checked against: a GGUF can be checked again without the HF model
        (out_dir / REFERENCE_FILE).write_text(json.dumps(ref))
        render = hf_render(AutoTokenizer.from_pretrained(hf_dir))
        for quant in params.quants:
            path = out_dir / f"{name}-{quant}.gguf"
            t = time.monotonic()
            quantize(source, path, quant, params.threads)
            quantize_s = time.monotonic() - t
            t = time.monotonic()
            got = probe(path, ref, params.max_new_tokens, params.threads)
            verdict = check(quant, ref, got, params.max_ce_increase[quant],
                            params.min_top1_agreement[quant], params.min_stop_ratio)
            text, template = modelfile(path.name, render, ref["conversations"], ref["eos_texts"],
                                       system=system)
            (out_dir / f"Modelfile.{quant}").write_text(text)
            report["quants"].append({
                "quant": quant, "file": path.name, "bytes": path.stat().st_size,
                "sha256": file_sha256(path), "modelfile": f"Modelfile.{quant}",
                "modelfile_template": template, "verified": verdict["verified"],
                "failures": verdict["failures"], "checks": verdict,
                "quantize_s": round(quantize_s, 2), "verify_s": round(time.monotonic() - t, 2),
            })
    (out_dir / "report.json").write_text(json.dumps(report, indent=2))
    return report


def verified(report: dict) -> list[dict]:
    """The quants that may be published and served."""
    return [q for q in report.get("quants", []) if q["verified"]]


def pick(report: dict, quant: str | None, name: str) -> dict:
    """The quant `serve-model` runs: the one asked for, else the first that passed its checks.
    One that failed them, or is not there, is refused (LookupError) with why."""
    quants = {q["quant"]: q for q in report.get("quants", [])}
    if not quants:
        raise LookupError(f"{name} has no GGUF export (gguf.quants was empty, or the version "
                          "predates the export step)")
    if quant is None:
        ok = verified(report)
        if not ok:
            raise LookupError(f"no GGUF quant of {name} passed its checks: " + "; ".join(
                f"{q['quant']}: {q['failures'][0]}" for q in quants.values()))
        return ok[0]
    if quant not in quants:
        raise LookupError(f"{name} has no {quant} quant; it has {', '.join(quants)}")
    if not quants[quant]["verified"]:
        raise LookupError(f"{name} {quant} failed its checks, so it is not served: "
                          + "; ".join(quants[quant]["failures"]))
    return quants[quant]


def summary(report: dict) -> list[dict]:
    """One line's worth per quant: step metadata, `tuneline models`, the run summary."""
    return [{"quant": q["quant"], "verified": q["verified"], "bytes": q["bytes"],
             "sha256": q["sha256"],
             "cross_entropy_increase": q["checks"].get("cross_entropy_increase"),
             "top1_agreement": q["checks"].get("top1_agreement"),
             "failures": q["failures"]} for q in report.get("quants", [])]


# --- Ollama ---------------------------------------------------------------------------------


# --- Hub --------------------------------------------------------------------------------------

