import math

import pytest

from tests.conftest import make_pair
from tuneline.formats import dpo_rows, sft_rows
from tuneline.params import SplitParams
from tuneline.promotion import decide_promotion
from tuneline.records import Preference
from tuneline.split import split_pairs, split_preferences


def test_split_is_stable_and_never_leaves_a_side_empty():
    pairs = [make_pair(i, f"Question {i}?") for i in range(20)]
    train, test = split_pairs(pairs, SplitParams(test_fraction=0.2, seed=1))
    assert len(test) == 4 and len(train) == 16
    assert split_pairs(list(reversed(pairs)), SplitParams(test_fraction=0.2, seed=1))[1] == list(reversed(test))
    # a tiny share still holds out one pair
    train2, test2 = split_pairs(pairs[:2], SplitParams(test_fraction=0.01))
    assert len(train2) == 1 and len(test2) == 1
    with pytest.raises(ValueError, match="at least 2"):
        split_pairs(pairs[:1], SplitParams())


def test_preferences_follow_their_pair():
    pairs = [make_pair(i, f"Question {i}?") for i in range(10)]
    _, test = split_pairs(pairs, SplitParams())
    prefs = [Preference(p.pair_id, p.instruction, "good", "bad", 4.0, 2.0) for p in pairs]
    train_p, test_p = split_preferences(prefs, test)
    assert {p.pair_id for p in test_p} == {p.pair_id for p in test}
    assert len(train_p) + len(test_p) == 10


def test_trl_rows_are_conversational():
    pair = make_pair(1, "What is r?", "The rank.")
    assert sft_rows([pair]) == [{"prompt": [{"role": "user", "content": "What is r?"}],
                                 "completion": [{"role": "assistant", "content": "The rank."}]}]
    row = dpo_rows([Preference("p", "Q?", "yes", "no", 4, 2)])[0]
    assert row["chosen"] == [{"role": "assistant", "content": "yes"}] and row["rejected"][0]["content"] == "no"


@pytest.mark.parametrize("metric, candidate, incumbent, margin, promote", [
    ("eval_loss", 1.0, 1.2, 0.0, True),
    ("eval_loss", 1.0, 1.05, 0.1, False),   # better, but not by the margin
    ("eval_loss", 1.3, 1.2, 0.0, False),
    ("eval_loss", 1.2, 1.2, 0.0, False),    # a tie does not replace production
    ("judge_score", 3.5, 3.0, 0.2, True),
    ("judge_score", 2.5, 3.0, 0.0, False),
    ("eval_loss", 1.0, None, 0.0, True),
    ("eval_loss", math.nan, 1.0, 0.0, False),
])
def test_promotion_rule(metric, candidate, incumbent, margin, promote):
    verdict, reason = decide_promotion(metric, candidate, incumbent, "production", margin)
    assert verdict is promote and metric in reason


def test_unknown_metric_is_an_error():
    with pytest.raises(ValueError, match="unknown promotion metric"):
        decide_promotion("bleu", 1.0, 1.0, "production", 0.0)
