"""Evaluation on the held-out split (answer loss, judge score) and on general prompts
(instruction following), the same items for every model."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from pathlib import Path
from statistics import mean

from tuneline.curation import judge
from tuneline.llm import LLM
from tuneline.params import EvalParams, JudgeParams, LLMParams
from tuneline.records import Pair, messages, prompt_messages
from tuneline.ship import general_check
from tuneline.train.formats import conversation_tokens, user_chat


def same_adapters(a: list[Path], b: list[Path]) -> bool:
    """True when two adapter chains hold byte-identical files (then they are the same model)."""
    def digest(paths: list[Path]) -> list[tuple[str, str]]:
        return [(f.relative_to(p).as_posix(), hashlib.sha256(f.read_bytes()).hexdigest())
                for p in paths for f in sorted(Path(p).rglob("*")) if f.is_file()]
    return len(a) == len(b) and digest(a) == digest(b)


def completion_losses(model, tok, pairs: list[Pair], batch_size: int = 8, system: str = ""
                      ) -> list[tuple[float, int]]:
    """Per pair: cross-entropy of its assistant turns given what precedes each (the tokens
    training computes its loss on: `formats.conversation_tokens`), summed, and their count.
    Pairs of similar length share a right-padded forward (the loop over single pairs was the
    GPU evaluation's slow part). `system`: for pairs without their own system prompt."""
    import torch
    import torch.nn.functional as F

    encoded = [conversation_tokens(tok, messages(p, system)) for p in pairs]
    out: list[tuple[float, int]] = [(0.0, 0)] * len(pairs)
    order = sorted(range(len(pairs)), key=lambda i: len(encoded[i][0]))
    pad = tok.pad_token_id if tok.pad_token_id is not None else 0
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            width = max(len(encoded[i][0]) for i in idx)
            ids = torch.full((len(idx), width), pad, dtype=torch.long)
            mask = torch.zeros((len(idx), width), dtype=torch.long)
            labels = torch.full((len(idx), width), -100, dtype=torch.long)
            for row, i in enumerate(idx):
                seq, scored = encoded[i]
                ids[row, :len(seq)] = torch.tensor(seq)
                mask[row, :len(seq)] = 1
                labels[row, :len(seq)] = torch.tensor(  # the assistant turns only
                    [t if m else -100 for t, m in zip(seq, scored)])
            logits = model(input_ids=ids.to(model.device),
                           attention_mask=mask.to(model.device)).logits[:, :-1].float()
            target = labels[:, 1:].to(logits.device)
            nll = F.cross_entropy(logits.transpose(1, 2), target, ignore_index=-100,
                                  reduction="none").sum(1)
            counts = (target != -100).sum(1)
            for row, i in enumerate(idx):
                out[i] = (float(nll[row]), int(counts[row]))
    return out


def evaluate_model(model_llm: LLM, model, tok, test: list[Pair], general: list[dict],
                   judge_llm: LLM, judging: JudgeParams, params: EvalParams, label: str,
                   system: str = "") -> tuple[dict, list[dict]]:
    """Metrics for one model, and one row per item it answered: the test pairs (its answer
    to the last user turn of each conversation next to the reference, judge score with the
    earlier turns in view, loss on the reference's assistant turns) and the general prompts
    (its reply and the constraints it followed). The rows are what the gate resamples.
    `system`: the system prompt of test pairs that have none."""
    test = test[: params.max_examples]
    answers = model_llm.generate([prompt_messages(p, system) for p in test],
                                 max_new_tokens=params.max_new_tokens, temperature=0.0,
                                 desc=f"answers ({label})")
    scored = judge.score(judge_llm, [(judge.in_context(p), a) for p, a in zip(test, answers)],
                         judging, desc=f"judge ({label})")
    losses = completion_losses(model, tok, test, params.loss_batch_size or (
        1 if model.device.type == "cpu" else 16), system)
    valid = [s for s, _ in scored if s is not None]
    tokens = sum(n for _, n in losses)
    metrics = {
        "eval_loss": round(sum(s for s, _ in losses) / tokens, 4) if tokens else math.nan,
        "judge_score": round(mean(valid), 4) if valid else math.nan,
        "judged": len(valid),
        "examples": len(test),
        "device": str(model.device),  # where it ran (evaluation.device)
    }
    rows = [{"model": label, "suite": "test", "item_id": p.pair_id, "instruction": p.instruction,
             "answer": a, "reference": p.answer, "judge_score": s, "loss_sum": loss,
             "tokens": n} for p, a, (s, _), (loss, n) in zip(test, answers, scored, losses)]
    if general:
        replies = model_llm.generate([user_chat(g["prompt"]) for g in general],
                                     max_new_tokens=params.general_max_new_tokens,
                                     temperature=0.0, desc=f"general prompts ({label})")
        verdicts = [general_check.verify(g, r) for g, r in zip(general, replies)]
        metrics |= general_check.summarize(verdicts)
        rows += [{"model": label, "suite": "general", "item_id": g["key"],
                  "instruction": g["prompt"], "answer": r, "followed": v["followed"],
                  "instructions": v["instructions"], "missed": ", ".join(v["missed"])}
                 for g, r, v in zip(general, replies, verdicts)]
    if params.benchmarks:
        from tuneline.ship import harness

        scores, items = harness.run(model, tok, params.benchmarks, params.batch_size)
        pooled = [r["score"] for r in items]
        metrics |= scores | {"benchmarks": round(sum(pooled) / len(pooled), 4) if pooled else None,
                             "benchmark_items": len(pooled)}
        rows += [{**r, "model": label} for r in items]
    return metrics, rows


Loader = Callable[[str, list[Path]], tuple[LLM, object, object]]  # (label, adapters) -> llm, model, tok


def model_loader(base_models: dict[str, str], llm: LLMParams, params: EvalParams) -> Loader:
    """Each candidate as its base model (`base_models[label]`: production may have been
    trained on another base than the candidate) + merged adapters on `params.device` (the
    step's GPU when it has one), wrapped as an LLM that generates with the evaluation's batch
    size and the run's seed."""
    from tuneline.llm.transformers_backend import wrap
    from tuneline.train import trl_backend

    def load(label: str, adapters: list[Path]):
        base = base_models[label]
        model, tok = trl_backend.load_model(base, adapters, params.device)
        return wrap(model, tok, f"{base} ({label})", params.batch_size, llm.seed), model, tok

    return load


def evaluate_candidates(candidates: list[tuple[str, str, list[Path]]], load: Loader,
                        test: list[Pair], general: list[dict], judge_llm: LLM,
                        judging: JudgeParams, params: EvalParams, system: str = ""
                        ) -> tuple[dict[str, dict], list[dict]]:
    """Each candidate (label, base model, adapter chain; [] is the base model itself) on the
    same test split and general prompts. The same base with byte-identical adapters is the
    same model: its metrics and answers are copied, not measured again (production is often
    the run's own cached training)."""
    metrics: dict[str, dict] = {}
    rows: list[dict] = []
    done: list[tuple[str, str, list[Path]]] = []
    for label, base, adapters in candidates:
        twin = next((d for d, b, a in done
                     if adapters and b == base and same_adapters(a, adapters)), None)
        if twin is not None:
            metrics[label] = {**metrics[twin], "same_as": twin}
            rows += [{**r, "model": label} for r in rows if r["model"] == twin]
        else:
            model_llm, model, tok = load(label, adapters)
            metrics[label], answers = evaluate_model(model_llm, model, tok, test, general,
                                                     judge_llm, judging, params, label, system)
            rows += answers
        done.append((label, base, adapters))
    return metrics, rows
