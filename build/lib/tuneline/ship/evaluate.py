"""Evaluation on the held-out split: completion loss and judge score, same data for every model."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from pathlib import Path
from statistics import mean

from tuneline.curation import judge
from tuneline.llm import LLM
from tuneline.params import EvalParams, JudgeParams, LLMParams
from tuneline.records import Pair
from tuneline.train.formats import assistant, user_chat


def same_adapters(a: list[Path], b: list[Path]) -> bool:
    """True when two adapter chains hold byte-identical files (then they are the same model)."""
    def digest(paths: list[Path]) -> list[tuple[str, str]]:
        return [(f.relative_to(p).as_posix(), hashlib.sha256(f.read_bytes()).hexdigest())
                for p in paths for f in sorted(Path(p).rglob("*")) if f.is_file()]
    return len(a) == len(b) and digest(a) == digest(b)


def completion_loss(model, tok, pairs: list[Pair]) -> float:
    """Token-weighted cross-entropy of the reference answers given their instructions."""
    import torch

    total, count = 0.0, 0
    with torch.inference_mode():
        for p in pairs:
            prompt = tok.apply_chat_template(user_chat(p.instruction), add_generation_prompt=True,
                                             tokenize=False)
            full = tok.apply_chat_template(user_chat(p.instruction) + assistant(p.answer), tokenize=False)
            prompt_ids = tok(prompt, add_special_tokens=False)["input_ids"]
            ids = tok(full, add_special_tokens=False, return_tensors="pt")["input_ids"].to(model.device)
            labels = ids.clone()
            labels[:, : len(prompt_ids)] = -100  # score the answer only
            n = int((labels[:, 1:] != -100).sum())
            total += float(model(input_ids=ids, labels=labels).loss) * n
            count += n
    return total / count if count else math.nan


def evaluate_model(model_llm: LLM, model, tok, test: list[Pair], judge_llm: LLM,
                   judging: JudgeParams, params: EvalParams, label: str) -> tuple[dict, list[dict]]:
    """Metrics for one model, and its answers (for inspection next to the reference)."""
    test = test[: params.max_examples]
    answers = model_llm.generate([user_chat(p.instruction) for p in test],
                                 max_new_tokens=params.max_new_tokens, temperature=0.0,
                                 desc=f"answers ({label})")
    scored = judge.score(judge_llm, [(p.instruction, a) for p, a in zip(test, answers)], judging,
                         desc=f"judge ({label})")
    valid = [s for s, _ in scored if s is not None]
    metrics = {
        "eval_loss": round(completion_loss(model, tok, test), 4),
        "judge_score": round(mean(valid), 4) if valid else math.nan,
        "judged": len(valid),
        "examples": len(test),
        "device": str(model.device),  # where it ran (evaluation.device)
    }
    rows = [{"model": label, "pair_id": p.pair_id, "instruction": p.instruction, "answer": a,
             "reference": p.answer, "judge_score": s} for p, a, (s, _) in zip(test, answers, scored)]
    return metrics, rows


Loader = Callable[[str, list[Path]], tuple[LLM, object, object]]  # (label, adapters) -> llm, model, tok


def model_loader(base_model: str, llm: LLMParams, params: EvalParams) -> Loader:
    """Each candidate as base + merged adapters on `params.device` (the step's GPU when it
    has one), wrapped as an LLM that generates with the run's batch size and seed."""
    from tuneline.llm.transformers_backend import wrap
    from tuneline.train import trl_backend

    def load(label: str, adapters: list[Path]):
        model, tok = trl_backend.load_model(base_model, adapters, params.device)
        return wrap(model, tok, f"{base_model} ({label})", llm.batch_size, llm.seed), model, tok

    return load


def evaluate_candidates(candidates: list[tuple[str, list[Path]]], load: Loader, test: list[Pair],
                        judge_llm: LLM, judging: JudgeParams, params: EvalParams
                        ) -> tuple[dict[str, dict], list[dict]]:
    """Each candidate (label, adapter chain; [] is the base model) on the same test split.
    A chain byte-identical to an earlier candidate's is the same model: its metrics are
    copied, not measured again (production is often the run's own cached training)."""
    metrics: dict[str, dict] = {}
    rows: list[dict] = []
    done: list[tuple[str, list[Path]]] = []
    for label, adapters in candidates:
        twin = next((d for d, a in done if adapters and same_adapters(a, adapters)), None)
        if twin is not None:
            metrics[label] = {**metrics[twin], "same_as": twin}
        else:
            model_llm, model, tok = load(label, adapters)
            metrics[label], answers = evaluate_model(model_llm, model, tok, test, judge_llm,
                                                     judging, params, label)
            rows += answers
        done.append((label, adapters))
    return metrics, rows
