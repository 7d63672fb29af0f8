"""The promotion gate: which model goes to production, decided with its uncertainty.

Every metric is a ratio over test items (answer loss: loss summed over answer tokens / tokens;
judge score: score / 1; instruction following: constraints followed / constraints), and the
candidate and the incumbent answered the same items. The gain of the candidate over the
incumbent is resampled with a paired bootstrap (the same resampled items for both models), and
its percentile interval at the configured confidence is what the gate reads:

- a metric that must improve passes when the whole interval is above its margin;
- a metric that must not regress passes when the whole interval is above minus its margin
  (non-inferiority: the data has to show the loss is smaller than the margin);
- too few test items for a gated metric, or an interval that straddles its threshold, is
  "undecided", never "promoted". Only a gate whose every metric passes promotes.

The ZenML calls live in tuneline_steps/register.py.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from tuneline.text import number_or_none

# Which way is better for each metric the evaluation produces.
LOWER_IS_BETTER = {"eval_loss": True, "judge_score": False, "instruction_following": False,
                   "benchmarks": False}
LABELS = {"base": "the base model", "production": "production"}

Items = dict[str, tuple[float, float]]  # item id -> (numerator, denominator)


def items_from_rows(rows: Iterable[dict]) -> dict[str, dict[str, Items]]:
    """metric -> model -> items, from the evaluation's answer rows (one row per model and item:
    suite, model, item_id, loss_sum/tokens, judge_score, followed/instructions, score)."""
    out: dict[str, dict[str, Items]] = {m: {} for m in LOWER_IS_BETTER}
    for r in rows:
        model, item = r["model"], str(r["item_id"])
        if r["suite"] == "test":
            if number_or_none(r.get("tokens")):
                out["eval_loss"].setdefault(model, {})[item] = (float(r["loss_sum"]), float(r["tokens"]))
            if number_or_none(r.get("judge_score")) is not None:
                out["judge_score"].setdefault(model, {})[item] = (float(r["judge_score"]), 1.0)
        elif r["suite"] == "general" and number_or_none(r.get("instructions")):
            out["instruction_following"].setdefault(model, {})[item] = (
                float(r["followed"]), float(r["instructions"]))
        elif r["suite"] == "benchmark" and number_or_none(r.get("score")) is not None:
            out["benchmarks"].setdefault(model, {})[item] = (float(r["score"]), 1.0)
    return out


def paired_bootstrap(candidate: Items, incumbent: Items, lower_is_better: bool,
                     confidence: float, samples: int, seed: int) -> dict:
    """Each model's ratio and the candidate's gain (positive = better) over the items both
    answered, with percentile intervals from resampling those items together."""
    common = sorted(set(candidate) & set(incumbent))
    n = len(common)
    if n == 0:
        return {"n": 0}
    c = np.array([candidate[k] for k in common], dtype=float)
    i = np.array([incumbent[k] for k in common], dtype=float)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, size=(samples, n))

    def ratio(a, rows=None):
        num, den = (a[rows, 0].sum(-1), a[rows, 1].sum(-1)) if rows is not None else (
            a[:, 0].sum(), a[:, 1].sum())
        return num / np.where(den == 0, np.nan, den)

    sign = -1.0 if lower_is_better else 1.0
    rc, ri = ratio(c, idx), ratio(i, idx)
    tail = (1 - confidence) / 2 * 100

    def interval(x):
        lo, hi = np.nanpercentile(x, [tail, 100 - tail])
        return [round(float(lo), 4), round(float(hi), 4)]

    point_c, point_i = float(ratio(c)), float(ratio(i))
    return {"n": n, "candidate": round(point_c, 4), "incumbent": round(point_i, 4),
            "candidate_interval": interval(rc), "incumbent_interval": interval(ri),
            "gain": round(sign * (point_c - point_i), 4), "gain_interval": interval(sign * (rc - ri))}


def _fmt(x: float) -> str:
    return f"{x:+.4f}"


def _span(iv: list[float]) -> str:
    return f"[{_fmt(iv[0])}, {_fmt(iv[1])}]"


def judge_metric(metric: str, cmp: dict, role: str, margin: float, min_examples: int,
                 confidence: float) -> dict:
    """One metric's verdict: passed (True/False/None = undecided), and why, in words."""
    out = {**cmp, "role": role, "margin": margin}
    level = f"{confidence:.0%}"
    if cmp.get("n", 0) == 0:
        return {**out, "passed": None, "status": "not measured",
                "why": f"{metric} was not measured on both models"}
    gain, (lo, hi) = cmp["gain"], cmp["gain_interval"]
    out["status"] = "better" if lo > 0 else "worse" if hi < 0 else "no clear change"
    if role == "reported":
        return {**out, "passed": None, "why": ""}
    if cmp["n"] < min_examples:
        return {**out, "passed": None, "why": (
            f"{metric} rests on {cmp['n']} items, fewer than the {min_examples} the gate needs "
            "to decide (promotion.min_examples)")}
    threshold = margin if role == "must_improve" else -margin
    if lo > threshold:
        what = (f"improved by {_fmt(gain)} {_span(cmp['gain_interval'])}" if role == "must_improve"
                else f"changed by {_fmt(gain)} {_span(cmp['gain_interval'])}, within the "
                     f"{margin} margin")
        return {**out, "passed": True, "why": f"{metric} {what} at {level}"}
    if hi <= threshold:  # the whole interval is on the wrong side: decided, against
        what = (f"did not improve by more than {margin}: {_fmt(gain)} {_span(cmp['gain_interval'])}"
                if role == "must_improve" else
                f"regressed by more than the {margin} margin: {_fmt(gain)} "
                f"{_span(cmp['gain_interval'])}")
        return {**out, "passed": False, "why": f"{metric} {what} at {level}"}
    need = f"above {threshold + 0.0:g}"  # + 0.0: no "-0"
    return {**out, "passed": None, "why": (
        f"{metric} {_fmt(gain)} {_span(cmp['gain_interval'])} is not {need} at {level}")}


def decide(items: dict[str, dict[str, Items]], incumbent_key: str, incumbent_label: str,
           gate, candidate_key: str = "tuned") -> dict:
    """The gate's decision for the candidate against the incumbent (`incumbent_key` names its
    rows: "base" or "production"). `gate` is a PromotionParams. Every measured metric is
    compared and reported; the gated ones decide."""
    roles = {m: ("must_improve", margin) for m, margin in gate.must_improve.items()}
    roles |= {m: ("must_not_regress", margin) for m, margin in gate.must_not_regress.items()}
    metrics: dict[str, dict] = {}
    for metric in LOWER_IS_BETTER:
        by_model = items.get(metric, {})
        if metric not in roles and candidate_key not in by_model:
            continue
        role, margin = roles.get(metric, ("reported", 0.0))
        cmp = paired_bootstrap(by_model.get(candidate_key, {}), by_model.get(incumbent_key, {}),
                               LOWER_IS_BETTER[metric], gate.confidence, gate.bootstrap_samples,
                               gate.seed)
        metrics[metric] = judge_metric(metric, cmp, role, margin, gate.min_examples, gate.confidence)
    gated = [m for m in metrics if metrics[m]["role"] != "reported"]
    failed = [m for m in gated if metrics[m]["passed"] is False]
    open_ = [m for m in gated if metrics[m]["passed"] is None]
    wrong_way = [m for m in metrics if metrics[m].get("gain") is not None and metrics[m]["gain"] < 0]
    if failed:
        verdict = "rejected"
    elif open_:
        verdict = "undecided"
    else:
        verdict = "promoted"
    against = f"against {incumbent_label}"
    if verdict == "promoted":
        reason = f"promoted {against}: " + "; ".join(metrics[m]["why"] for m in gated)
    elif verdict == "rejected":
        reason = f"not promoted {against}: " + "; ".join(metrics[m]["why"] for m in failed)
    else:
        reason = f"undecided {against}: " + "; ".join(metrics[m]["why"] for m in open_)
    if wrong_way:
        reason += "; moved the wrong way: " + ", ".join(
            f"{m} {_fmt(metrics[m]['gain'])} {_span(metrics[m]['gain_interval'])}" for m in wrong_way)
    general = metrics.get("instruction_following", {})
    return {"promoted": verdict == "promoted", "verdict": verdict, "reason": reason,
            "against": incumbent_key, "confidence": gate.confidence, "metrics": metrics,
            "wrong_way": wrong_way,
            "too_small": any(metrics[m].get("n", 0) < gate.min_examples for m in gated),
            # lost general ability: decided worse, or fell by more than the guard's margin
            "general_regression": bool(general.get("n")) and (
                general["status"] == "worse" or general.get("passed") is False)}


def incumbent(eval_metrics: dict, production: tuple[int, dict] | None) -> tuple[str | None, str]:
    """Whose answers the candidate is compared with, and how to name it. No production
    version: the base model on this test split. Production re-evaluated on this split (same
    version): those answers. Production changed after this run composed its evaluation: None
    (nothing paired to compare with; the gate is undecided)."""
    if production is None:
        return "base", LABELS["base"]
    number, _recorded = production
    rerun = eval_metrics.get("production") or {}
    if rerun.get("version") == number:
        return "production", f"production version {number}"
    return None, f"production version {number} (not evaluated on this test split)"


def not_comparable(label: str, gate) -> dict:
    """The decision when the incumbent did not answer this run's test items."""
    return {"promoted": False, "verdict": "undecided", "against": None,
            "confidence": gate.confidence, "metrics": {}, "wrong_way": [], "too_small": False,
            "general_regression": False,
            "reason": f"undecided: {label} changed while this run evaluated; run again to compare "
                      "on the same test items"}


def unchanged(same_as: int, stage: str | None) -> dict:
    """The decision of a run whose adapters are those of an existing version: no new version,
    no stage change (the run ends with that version)."""
    return {"promoted": False, "verdict": "unchanged", "unchanged": True, "same_as": same_as,
            "stage": stage,
            "reason": f"unchanged: same as version {same_as} (the same training data, parameters "
                      "and code made the same adapters)"}
