"""The promotion gate (tuneline/ship/promotion.py): paired bootstrap intervals and verdicts."""

import numpy as np
import pytest
from pydantic import ValidationError

from tuneline.params import PromotionParams
from tuneline.ship import promotion as gate


def rows(n_test=40, n_general=50, loss_drop=0.3, base_follow=0.5, tuned_follow=0.5,
         judge_drop=0.0, noise=0.05, seed=1, production=False):
    """Answer rows of base, tuned (and production = base's answers) as the evaluate step
    stores them; the tuned model's per-item loss is the base's minus `loss_drop` plus noise."""
    rng = np.random.default_rng(seed)
    out = []
    models = ("base", "tuned") + (("production",) if production else ())
    for i in range(n_test):
        base = 3 + rng.normal(0, 0.3)
        tuned = base - loss_drop + rng.normal(0, noise)
        judge = float(rng.integers(2, 5))
        for m in models:
            loss = tuned if m == "tuned" else base
            out.append({"model": m, "suite": "test", "item_id": f"t{i}", "loss_sum": loss * 20,
                        "tokens": 20, "judge_score": judge - (judge_drop if m == "tuned" else 0)})
    for i in range(n_general):
        base_ok = rng.random() < base_follow
        tuned_ok = base_ok if rng.random() < 0.8 else rng.random() < tuned_follow
        if tuned_follow < base_follow - 0.2:  # a model that lost the ability
            tuned_ok = rng.random() < tuned_follow
        for m in models:
            out.append({"model": m, "suite": "general", "item_id": f"g{i}",
                        "followed": int(tuned_ok if m == "tuned" else base_ok), "instructions": 1})
    return out


def decide(r, **gate_params):
    return gate.decide(gate.items_from_rows(r), "base", "the base model", PromotionParams(**gate_params))


def test_a_clear_loss_gain_with_general_ability_kept_is_promoted():
    d = decide(rows())
    assert d["verdict"] == "promoted" and d["promoted"]
    assert d["metrics"]["eval_loss"]["status"] == "better"
    assert d["metrics"]["eval_loss"]["gain_interval"][0] > 0
    assert d["metrics"]["instruction_following"]["passed"] is True
    assert d["reason"].startswith("promoted against the base model: eval_loss improved by +0.")


def test_a_loss_gain_that_costs_general_ability_beyond_the_margin_is_not_promoted_and_says_why():
    d = decide(rows(base_follow=0.8, tuned_follow=0.2))
    assert d["verdict"] == "rejected" and not d["promoted"]
    assert d["metrics"]["eval_loss"]["passed"] is True  # the loss did improve
    g = d["metrics"]["instruction_following"]
    assert g["passed"] is False and g["gain_interval"][1] < -0.15
    assert "instruction_following regressed by more than the 0.15 margin" in d["reason"]
    assert d["general_regression"] and "instruction_following" in d["wrong_way"]


def test_an_improvement_on_a_tiny_split_is_undecided_not_promoted():
    d = decide(rows(n_test=6, loss_drop=0.05, noise=0.3))
    assert d["verdict"] == "undecided" and not d["promoted"] and d["too_small"]
    assert "eval_loss rests on 6 items, fewer than the 20 the gate needs" in d["reason"]


def test_an_interval_that_straddles_zero_is_undecided_even_on_a_large_split():
    d = decide(rows(n_test=60, loss_drop=0.01, noise=0.4), min_examples=20)
    lo, hi = d["metrics"]["eval_loss"]["gain_interval"]
    assert lo < 0 < hi
    assert d["verdict"] == "undecided" and "is not above 0 at 90%" in d["reason"]


def test_a_metric_that_moved_the_wrong_way_is_named_even_when_not_gated():
    d = decide(rows(judge_drop=1.0))
    assert d["metrics"]["judge_score"]["role"] == "reported"  # the judge is not a default gate
    assert d["promoted"] and "judge_score" in d["wrong_way"]
    assert "moved the wrong way: judge_score -1.0000" in d["reason"]


def test_the_margin_of_a_metric_that_must_improve_is_required_of_the_whole_interval():
    assert decide(rows(loss_drop=0.3), must_improve={"eval_loss": 0.1})["promoted"]
    d = decide(rows(loss_drop=0.3), must_improve={"eval_loss": 0.5})
    assert d["verdict"] == "rejected" and "did not improve by more than 0.5" in d["reason"]


def test_identical_models_have_a_zero_gain_and_the_bootstrap_is_seeded():
    r = [dict(x, model="tuned") for x in rows() if x["model"] == "base"] + [
        x for x in rows() if x["model"] == "base"]
    d = decide(r)
    assert d["metrics"]["eval_loss"]["gain_interval"] == [0.0, 0.0]
    assert d["verdict"] == "rejected"  # no improvement at all: decided, not undecided
    first, again = decide(rows(noise=0.4)), decide(rows(noise=0.4))
    assert first["metrics"] == again["metrics"]
    other = decide(rows(noise=0.4), seed=7)["metrics"]["eval_loss"]["gain_interval"]
    assert other != first["metrics"]["eval_loss"]["gain_interval"]


def test_pairing_makes_the_interval_of_the_gain_narrower_than_either_models():
    m = decide(rows(noise=0.02))["metrics"]["eval_loss"]
    width = lambda iv: iv[1] - iv[0]  # noqa: E731
    assert width(m["gain_interval"]) < 0.25 * width(m["incumbent_interval"])
    assert m["candidate_interval"][0] <= m["candidate"] <= m["candidate_interval"][1]


def test_production_is_the_incumbent_when_it_answered_the_same_items():
    metrics = {"base": {}, "tuned": {}, "production": {"version": 3}}
    assert gate.incumbent(metrics, None) == ("base", "the base model")
    assert gate.incumbent(metrics, (3, {})) == ("production", "production version 3")
    # production changed after this run composed its evaluation: nothing paired to compare
    key, label = gate.incumbent(metrics, (4, {}))
    assert key is None and "not evaluated on this test split" in label
    d = gate.not_comparable(label, PromotionParams())
    assert d["verdict"] == "undecided" and not d["promoted"]
    r = rows(production=True)
    d = gate.decide(gate.items_from_rows(r), "production", "production version 3", PromotionParams())
    assert d["against"] == "production" and "against production version 3" in d["reason"]


def test_items_read_from_answer_rows_skip_missing_judge_scores():
    r = [{"model": "tuned", "suite": "test", "item_id": "a", "loss_sum": 4.0, "tokens": 2,
          "judge_score": None},
         {"model": "tuned", "suite": "test", "item_id": "b", "loss_sum": 3.0, "tokens": 3,
          "judge_score": float("nan")},
         {"model": "tuned", "suite": "general", "item_id": "g", "followed": 1, "instructions": 2,
          "judge_score": None}]
    items = gate.items_from_rows(r)
    assert items["eval_loss"]["tuned"] == {"a": (4.0, 2.0), "b": (3.0, 3.0)}
    assert items["judge_score"] == {}
    assert items["instruction_following"]["tuned"] == {"g": (1.0, 2.0)}


def test_a_gate_config_with_the_old_keys_or_nothing_to_improve_is_an_error():
    with pytest.raises(ValidationError, match="replaced by promotion.must_improve"):
        PromotionParams(metric="eval_loss", min_improvement=0.0)
    with pytest.raises(ValidationError, match="names no metric"):
        PromotionParams(must_improve={})
    with pytest.raises(ValidationError, match="both in promotion.must_improve"):
        PromotionParams(must_improve={"eval_loss": 0}, must_not_regress={"eval_loss": 0.1})
    with pytest.raises(ValidationError):
        PromotionParams(must_improve={"bleu": 0.0})
