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
import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from tuneline.documents.ingest import file_sha256

# tuneline quant name -> llama.cpp file type (llama_cpp.LLAMA_FTYPE_MOSTLY_*)
FTYPES = {"f16": "F16", "bf16": "BF16", "q8_0": "Q8_0", "q6_k": "Q6_K", "q5_k_m": "Q5_K_M",
          "q5_0": "Q5_0", "q4_k_m": "Q4_K_M", "q4_0": "Q4_0", "q3_k_m": "Q3_K_M", "q2_k": "Q2_K"}
CONVERTER_ENV = "TUNELINE_LLAMA_CPP"
REFERENCE_FILE = "reference.json"
# an answer token counts for greedy agreement when the merged model's top choice leads the
# runner-up by this much probability
DECIDED = 0.1


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


def conversations(pairs: list[dict]) -> list[list[dict]]:
    """The prompts the checks send: each test instruction alone, and one multi-turn
    conversation with a system prompt (templates differ most in how they place those)."""
    convs = [[{"role": "user", "content": p["instruction"]}] for p in pairs]
    if len(pairs) >= 2:
        convs.append([{"role": "system", "content": "Answer from the documentation."},
                      {"role": "user", "content": pairs[0]["instruction"]},
                      {"role": "assistant", "content": pairs[0]["answer"]},
                      {"role": "user", "content": pairs[1]["instruction"]}])
    return convs


def _ids(tok, messages, **kw) -> list[int]:
    return list(tok.apply_chat_template(messages, tokenize=True, return_dict=False, **kw))


def _score(model, ids: list[int], start: int) -> dict:
    """Negative log-likelihood and argmax of each token from `start` on, given what precedes."""
    import torch

    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits[0, start - 1:-1].double()
    targets = torch.tensor(ids[start:])
    nll = torch.logsumexp(logits, -1) - logits[torch.arange(len(targets)), targets]
    top2 = torch.softmax(logits, -1).topk(2, -1).values
    return {"ids": ids, "answer_start": start, "nll": nll.tolist(),
            "argmax": logits.argmax(-1).tolist(),
            "margin": (top2[:, 0] - top2[:, 1]).tolist()}


def reference(hf_dir: Path, pairs: list[dict], max_new_tokens: int) -> dict:
    """What the merged HF model does, for the GGUF to be compared with: the template's token
    ids per conversation; the test answers' NLL and argmax per token; and its own greedy
    replies (those that end on EOS within the budget, scored the same way, so a quant can be
    asked whether it stops where the merged model stops, on the same text)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig

    tok = AutoTokenizer.from_pretrained(hf_dir)
    model = AutoModelForCausalLM.from_pretrained(hf_dir, dtype=torch.float32).eval()
    eos = GenerationConfig.from_pretrained(hf_dir).eos_token_id
    eos = [eos] if isinstance(eos, int) else list(eos or [tok.eos_token_id])
    convs = conversations(pairs)
    ref = {"conversations": convs, "eos_ids": eos, "eos_texts": tok.convert_ids_to_tokens(eos),
           "prompt_ids": [_ids(tok, c, add_generation_prompt=True) for c in convs],
           "answers": [], "replies": []}
    for p in pairs:
        user = [{"role": "user", "content": p["instruction"]}]
        prompt = _ids(tok, user, add_generation_prompt=True)
        full = _ids(tok, user + [{"role": "assistant", "content": p["answer"]}])
        if full[:len(prompt)] == prompt:  # else the template rewrites earlier turns
            ref["answers"].append(_score(model, full, len(prompt)))
    for prompt, reply in zip(ref["prompt_ids"], _greedy(model, tok, ref["prompt_ids"], eos,
                                                        max_new_tokens)):
        ends = [i for i, t in enumerate(reply) if t in eos]
        if ends:
            ref["replies"].append(_score(model, prompt + reply[:ends[0] + 1], len(prompt)))
    ref["replies_run_away"] = len(convs) - len(ref["replies"])
    return ref


def _greedy(model, tok, prompts: list[list[int]], eos: list[int], max_new_tokens: int):
    import torch

    width = max(len(p) for p in prompts)
    pad = tok.pad_token_id if tok.pad_token_id is not None else eos[0]
    ids = torch.tensor([[pad] * (width - len(p)) + p for p in prompts])  # left padding
    mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts])
    with torch.no_grad():
        out = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=max_new_tokens,
                             do_sample=False, eos_token_id=eos, pad_token_id=pad)
    return [row.tolist() for row in out[:, width:]]


def probe(gguf_file: Path, ref: dict, max_new_tokens: int, threads: int | None) -> dict:
    """Run the GGUF in llama.cpp in a child process; a crash comes back as {"error": ...}."""
    with tempfile.TemporaryDirectory(prefix="tuneline-probe-") as tmp:
        spec, out = Path(tmp) / "in.json", Path(tmp) / "out.json"
        spec.write_text(json.dumps({
            "gguf": str(gguf_file), "threads": threads or os.cpu_count() or 1,
            "max_new_tokens": max_new_tokens, "conversations": ref["conversations"],
            "score": [{"ids": s["ids"], "answer_start": s["answer_start"]}
                      for s in ref["answers"] + ref["replies"]],
        }))
        proc = subprocess.run([sys.executable, "-m", "tuneline.ship.gguf_probe", str(spec), str(out)],
                              capture_output=True, text=True)
        if proc.returncode != 0 or not out.is_file():
            lines = [ln for ln in proc.stderr.splitlines() if ln.strip() and not ln.startswith("#")]
            why = lines[-1] if lines else f"exit status {proc.returncode}"
            return {"error": f"llama.cpp died running {gguf_file.name} "
                             f"(exit {proc.returncode}): {why}"}
        got = json.loads(out.read_text())
        n = len(ref["answers"])
        got["answers"], got["replies"] = got["scores"][:n], got["scores"][n:]
        return got


def _mean(xs: list[float]) -> float:
    return sum(xs) / len(xs) if xs else 0.0


def check(quant: str, ref: dict, got: dict, max_ce_increase: float,
          min_top1_agreement: float, min_stop_ratio: float) -> dict:
    """The verdict on one quant: each check's numbers, pass/fail, and why it fails."""
    if "error" in got:
        return {"quant": quant, "verified": False, "failures": [got["error"]]}
    failures = []
    # template: the GGUF's own template and tokenizer against the HF template's ids
    mismatched = [i for i, a in enumerate(ref["prompt_ids"])
                  if i >= len(got["prompt_ids"]) or got["prompt_ids"][i] != a]
    if not got.get("chat_template"):
        failures.append("no chat template in the GGUF")
    elif got.get("template_error"):
        failures.append(f"the GGUF's chat template fails to render: {got['template_error']}")
    elif mismatched:
        i = mismatched[0]
        a, b = ref["prompt_ids"][i], (got["prompt_ids"] + [[]] * len(ref["prompt_ids"]))[i] or []
        at = next((k for k, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
        failures.append(f"chat template: {len(mismatched)} of {len(ref['prompt_ids'])} prompts "
                        f"tokenize differently from the HF template (first at token {at} of "
                        f"prompt {i}: {a[at:at + 4]} vs {b[at:at + 4]})")
    # stop: EOS is end-of-generation in the GGUF, and at the end of each reply the merged model
    # stops, on that same reply, the quant gives EOS at least `min_stop_ratio` of the merged
    # model's probability (not its argmax: the merged model's own EOS is often a near-tie,
    # p 0.35-0.65 on the bundled model; an export that lost EOS gives it ~0)
    missing = [t for t in ref["eos_ids"] if t not in got["eog_ids"]]
    if missing:
        failures.append(f"EOS ids {missing} ({', '.join(ref['eos_texts'])}) are not end-of-"
                        f"generation tokens in the GGUF (its are {got['eog_texts']})")
    ratios = [math.exp(r["nll"][-1] - g["nll"][-1]) for r, g in zip(ref["replies"], got["replies"])]
    weak = sum(x < min_stop_ratio for x in ratios)
    if weak:
        failures.append(f"does not stop where the merged model stops: on {weak} of "
                        f"{len(ratios)} of its replies the quant's EOS probability is under "
                        f"{min_stop_ratio:.0%} of the merged model's")
    # quality on the test answers
    ref_nll = [x for s in ref["answers"] for x in s["nll"]]
    got_nll = [x for s in got["answers"] for x in s["nll"]]
    # greedy agreement where the merged model has a clear choice: at a near-tie (the top two
    # within DECIDED in probability) either token is the model's answer, and a small model has
    # many (108 of the quickstart model's 472 answer tokens; counting them, q8_0 agrees on 96.8%)
    same = [a == b for r, g in zip(ref["answers"], got["answers"])
            for a, b, m in zip(r["argmax"], g["argmax"], r["margin"]) if m >= DECIDED]
    same_all = [a == b for r, g in zip(ref["answers"], got["answers"])
                for a, b in zip(r["argmax"], g["argmax"])]
    ce_ref, ce = _mean(ref_nll), _mean(got_nll)
    increase = (ce - ce_ref) / ce_ref if ce_ref else 0.0
    agreement = _mean(same)
    if increase > max_ce_increase:
        failures.append(f"answer cross-entropy {ce:.4f} is {increase:+.1%} over the merged "
                        f"model's {ce_ref:.4f} (tolerance {max_ce_increase:.1%})")
    if agreement < min_top1_agreement:
        failures.append(f"greedy agreement with the merged model {agreement:.1%} is below "
                        f"{min_top1_agreement:.0%} (on the {len(same)} answer tokens where its "
                        "choice is clear)")
    gens = got["generations"]
    return {
        "quant": quant, "verified": not failures, "failures": failures,
        "template_prompts_matching": len(ref["prompt_ids"]) - len(mismatched),
        "template_prompts": len(ref["prompt_ids"]),
        "stops_checked": len(ratios), "stops_matching": len(ratios) - weak,
        "min_stop_ratio": min(ratios, default=None),
        # served through the chat endpoint: informational, free generation of a small model
        # drifts from the merged model's after a near-tie and may loop where it did not
        "chat_stopped": sum(g["finish_reason"] == "stop" for g in gens), "chat_prompts": len(gens),
        "merged_chat_stopped": len(ref["replies"]),
        "answer_tokens": len(ref_nll), "cross_entropy": ce, "merged_cross_entropy": ce_ref,
        "cross_entropy_increase": increase, "top1_agreement": agreement,
        "decided_tokens": len(same), "top1_agreement_all_tokens": _mean(same_all),
    }


def export(hf_dir: Path, out_dir: Path, name: str, pairs: list[dict], params) -> dict:
    """Convert once, then per quant type: quantize, run in llama.cpp, check, write a Modelfile.
    `params` is a GGUFParams. Returns the report (also written as report.json in `out_dir`);
    a quant that fails stays in the folder, marked unverified with its reasons."""
    import time

    from transformers import AutoTokenizer

    out_dir.mkdir(parents=True, exist_ok=True)
    report = {"name": name, "examples": len(pairs), "quants": []}
    with tempfile.TemporaryDirectory(prefix="tuneline-gguf-") as tmp:
        t = time.monotonic()
        source = convert(hf_dir, Path(tmp) / f"{name}-bf16-source.gguf")
        report["convert_s"] = round(time.monotonic() - t, 2)
        t = time.monotonic()
        ref = reference(hf_dir, pairs, params.max_new_tokens)
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
            text, template = modelfile(path.name, render, ref["conversations"], ref["eos_texts"])
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

_MARK = {"system": "\u27e6tl-system\u27e7", "user": "\u27e6tl-user-{}\u27e7",
         "assistant": "\u27e6tl-assistant\u27e7"}


def _split(text: str, marks: list[str]) -> list[str]:
    pieces = []
    for m in marks:
        head, found, text = text.partition(m)
        if not found:
            raise ValueError(f"the template drops or rewrites message text ({m!r} not rendered)")
        pieces.append(head)
    return pieces + [text]


def chat_parts(render) -> dict:
    """Each role's prefix and suffix, the text before the first message, the generation prompt
    and any default system prompt, read off `render(messages, add_generation_prompt)`.
    Raises ValueError when the template is not of the prefix/content/suffix kind Ollama's
    templates express (the caller then writes no TEMPLATE)."""
    s, u1, u2, a = _MARK["system"], _MARK["user"].format(1), _MARK["user"].format(2), _MARK["assistant"]
    conv = [{"role": "system", "content": s}, {"role": "user", "content": u1},
            {"role": "assistant", "content": a}, {"role": "user", "content": u2}]
    p = _split(render(conv, True), [s, u1, a, u2])
    user_suffix = _split(render(conv, False), [s, u1, a, u2])[4]
    gen = p[4][len(user_suffix):]
    asst_prefix = p[2][len(user_suffix):]
    r = _split(render(conv[1:3], False), [u1, a])
    asst_suffix = r[2]
    user_prefix = p[3][len(asst_suffix):]
    sys_suffix = p[1][:len(p[1]) - len(user_prefix)]
    parts = {"user": (user_prefix, user_suffix), "assistant": (asst_prefix, asst_suffix),
             "generation": gen, "default_system": None}
    no_system = r[0]
    if no_system.startswith(p[0]) and no_system.endswith(sys_suffix + user_prefix) \
            and len(no_system) > len(p[0]) + len(sys_suffix + user_prefix):
        # the template injects a system prompt when the conversation has none
        parts["default_system"] = no_system[len(p[0]):len(no_system) - len(sys_suffix + user_prefix)]
        head = ""
        sys_prefix = p[0]
    else:
        head = no_system[:len(no_system) - len(user_prefix)]
        sys_prefix = p[0][len(head):]
    parts["head"], parts["system"] = head, (sys_prefix, sys_suffix)
    return parts


def render_parts(parts: dict, messages: list[dict]) -> str:
    """What Ollama renders from the derived template (and SYSTEM, when no system message)."""
    if parts["default_system"] is not None and not any(m["role"] == "system" for m in messages):
        messages = [{"role": "system", "content": parts["default_system"]}, *messages]
    out = parts["head"]
    for m in messages:
        prefix, suffix = parts[m["role"]]
        out += prefix + m["content"] + suffix
    return out + parts["generation"]


def _go_literal(text: str) -> str:
    # text/template copies literal text verbatim; only an action delimiter needs quoting
    return text if "{{" not in text and "}}" not in text else "{{ " + json.dumps(text) + " }}"


def ollama_template(parts: dict) -> str:
    branches = []
    for i, role in enumerate(("system", "user", "assistant")):
        prefix, suffix = parts[role]
        kw = "if" if i == 0 else "else if"
        branches.append(f'{{{{ {kw} eq .Role "{role}" }}}}{_go_literal(prefix)}{{{{ .Content }}}}'
                        f"{_go_literal(suffix)}")
    return (_go_literal(parts["head"]) + "{{ range .Messages }}" + "".join(branches)
            + "{{ end }}{{ end }}" + _go_literal(parts["generation"]))


def modelfile(gguf_name: str, render, samples: list[list[dict]], stops: list[str],
              temperature: float = 0.7) -> tuple[str, dict]:
    """An Ollama Modelfile for one GGUF: FROM, TEMPLATE and SYSTEM derived from the model's own
    chat template, PARAMETER stop from its EOS tokens. Returns the text and how the template was
    checked: the derived template must render every sample conversation exactly as the model's
    template does; if it cannot, the TEMPLATE line is left out (Ollama then reads the GGUF's)."""
    lines = [f"FROM ./{gguf_name}"]
    try:
        parts = chat_parts(render)
        bad = [i for i, m in enumerate(samples) if render_parts(parts, m) != render(m, True)]
        if bad:
            raise ValueError(f"the derived template renders {len(bad)} of {len(samples)} "
                             "conversations differently")
    except Exception as e:  # noqa: BLE001 - a template that raises on a sample is a finding too
        info = {"template": False, "reason": f"{type(e).__name__}: {e}"}
    else:
        lines.append(f'TEMPLATE """{ollama_template(parts)}"""')
        if parts["default_system"] is not None:
            lines.append(f'SYSTEM """{parts["default_system"]}"""')
        info = {"template": True, "conversations_checked": len(samples)}
    lines += [f'PARAMETER stop "{s}"' for s in stops]
    lines.append(f"PARAMETER temperature {temperature}")
    return "\n".join(lines) + "\n", info


def hf_render(tok):
    """render(messages, add_generation_prompt) with the HF tokenizer's own chat template."""
    return lambda messages, gen: tok.apply_chat_template(messages, tokenize=False,
                                                         add_generation_prompt=gen)


# --- Hub --------------------------------------------------------------------------------------

def gguf_card(repo_id: str, source: str, base_model: str | None, quants: list[dict],
              record: dict, license: str | None) -> str:
    """README.md of a -GGUF repo: which quants, how each compares with the merged model, how
    to run them."""
    from huggingface_hub import ModelCardData

    data = ModelCardData(base_model=base_model, license=license, pipeline_tag="text-generation",
                         tags=["gguf", "llama.cpp", "ollama", "tuneline", "zenml"])
    name = repo_id.split("/")[-1]
    lines = ["---", data.to_yaml(), "---", "", f"# {repo_id}", "",
             f"GGUF quants of `{source}` (ZenML model `{record.get('model')}` version "
             f"{record.get('version')}), converted with llama.cpp's `convert_hf_to_gguf.py` and "
             "quantized with `llama_model_quantize`. Each file was run in llama.cpp before upload "
             "and checked against the merged 16-bit model on the held-out test split.", "",
             "| file | size | answer cross-entropy vs merged | greedy agreement | template | "
             "stops | sha256 |", "|---|---|---|---|---|---|---|"]
    for q in quants:
        c = q["checks"]
        lines.append(
            f"| {q['file']} | {q['bytes'] / 2**20:.1f} MiB | {c['cross_entropy']:.4f} vs "
            f"{c['merged_cross_entropy']:.4f} ({c['cross_entropy_increase']:+.2%}) | "
            f"{c['top1_agreement']:.1%} | {c['template_prompts_matching']}/"
            f"{c['template_prompts']} prompts | {c['stops_matching']}/{c['stops_checked']} | `{q['sha256']}` |")
    first = quants[0]["file"] if quants else f"{name}.gguf"
    lines += ["", "## Run it", "", "llama.cpp:", "", "```bash",
              f"llama-server -m {first} --jinja   # OpenAI-compatible, on :8080", "```", "",
              "Ollama (the Modelfile carries the chat template and stop tokens):", "", "```bash",
              f"ollama create {name.lower()} -f {quants[0]['modelfile'] if quants else 'Modelfile'}",
              f"ollama run {name.lower()}", "```", ""]
    return "\n".join(lines)
