"""Promotion rule for the model registry (the ZenML calls live in the step)."""

from __future__ import annotations

import math

# Which way is better for each metric the evaluation produces.
LOWER_IS_BETTER = {"eval_loss": True, "judge_score": False}


def decide_promotion(metric: str, candidate: float, incumbent: float | None,
                     incumbent_label: str, min_improvement: float) -> tuple[bool, str]:
    """Promote only when the candidate beats the incumbent by at least `min_improvement`."""
    if metric not in LOWER_IS_BETTER:
        raise ValueError(f"unknown promotion metric {metric!r}; expected one of {sorted(LOWER_IS_BETTER)}")
    if candidate is None or math.isnan(candidate):
        return False, f"{metric} is missing for the candidate"
    if incumbent is None or math.isnan(incumbent):
        return True, f"no {incumbent_label} {metric} to beat"
    gain = incumbent - candidate if LOWER_IS_BETTER[metric] else candidate - incumbent
    verdict = gain >= min_improvement and gain > 0
    word = "beats" if verdict else "does not beat"
    return verdict, (f"{metric} {candidate:.4f} {word} {incumbent_label} {incumbent:.4f} "
                     f"(gain {gain:+.4f}, required > 0 and >= {min_improvement})")


def incumbent(metric: str, eval_metrics: dict, production: tuple[int, dict] | None
              ) -> tuple[float | None, str]:
    """What the candidate must beat, and how to name it. No production version: the base
    model on this test split. Production re-evaluated on this split (same version): that
    score. Production changed since evaluation: its recorded score, on its own test split."""
    if production is None:
        return eval_metrics["base"].get(metric), "the base model"
    number, recorded = production
    rerun = eval_metrics.get("production") or {}
    if rerun.get("version") == number:
        return rerun.get(metric), f"production version {number}"
    return (recorded or {}).get(metric), f"production version {number} (on its own test split)"


def unchanged(same_as: int, stage: str | None, metric: str, candidate: float | None) -> dict:
    """The decision of a run whose adapters are those of an existing version: no new version,
    no stage change (the run ends with that version)."""
    return {"promoted": False, "unchanged": True, "same_as": same_as, "stage": stage,
            "reason": f"unchanged: same as version {same_as} (the same training data, parameters "
                      "and code made the same adapters)",
            "metric": metric, "candidate": candidate, "incumbent": None}
