"""The checks a GGUF quant must pass before it is published: run in llama.cpp (gguf_probe, in its
own process) and compared with the merged HF model it came from (see tuneline/ship/gguf.py for
what each check means and why)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path

# an answer token counts for greedy agreement when the merged model's top choice leads the
# runner-up by this much probability
DECIDED = 0.1



def conversations(pairs: list[dict], system: str = "") -> list[list[dict]]:
    """The prompts the checks send: each test conversation up to its last user turn (`prompt`:
    chat messages, with its own or the configured system prompt), and one multi-turn
    conversation with a system prompt, the configured one when there is one (templates differ
    most in how they place those)."""
    convs = [list(p["prompt"]) for p in pairs]
    if len(pairs) >= 2:
        last_user = [c[-1]["content"] for c in convs[:2]]
        convs.append([{"role": "system", "content": system or "Answer from the documentation."},
                      {"role": "user", "content": last_user[0]},
                      {"role": "assistant", "content": pairs[0]["answer"]},
                      {"role": "user", "content": last_user[1]}])
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



def reference(hf_dir: Path, pairs: list[dict], max_new_tokens: int, system: str = "") -> dict:
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
    convs = conversations(pairs, system)
    ref = {"conversations": convs, "eos_ids": eos, "eos_texts": tok.convert_ids_to_tokens(eos),
           "prompt_ids": [_ids(tok, c, add_generation_prompt=True) for c in convs],
           "answers": [], "replies": []}
    for p in pairs:
        prompt = _ids(tok, p["prompt"], add_generation_prompt=True)
        full = _ids(tok, p["prompt"] + [{"role": "assistant", "content": p["answer"]}])
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
