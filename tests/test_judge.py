import pytest

from tests.conftest import make_pair
from tuneline.judge import expected_score, judge_chat, judge_pairs
from tuneline.params import JudgeParams


def test_expected_score_normalises_over_the_digits():
    assert expected_score([0, 0, 0, 0, 1.0]) == (5.0, 1.0)
    score, mass = expected_score([0.1, 0.1, 0.2, 0.2, 0.2])
    assert mass == pytest.approx(0.8) and score == pytest.approx((0.1 + 0.2 + 0.6 + 0.8 + 1.0) / 0.8)


def test_a_judge_that_does_not_answer_with_a_digit_gives_no_score():
    assert expected_score([0.05, 0.05, 0.05, 0.05, 0.05]) == (None, pytest.approx(0.25))


def test_judge_pairs_keeps_scores_drops_low_and_quarantines_non_answers(fake_llm):
    pairs = [make_pair(1, "Q one?"), make_pair(2, "Q two?"), make_pair(3, "Q three?")]
    llm = fake_llm(probs=[[0, 0, 0, 0.5, 0.5], [0.9, 0.1, 0, 0, 0], [0.01, 0, 0, 0, 0.01]])
    kept, dropped = judge_pairs(pairs, llm, JudgeParams(min_score=2.5))
    assert [(p.pair_id, p.score) for p in kept] == [("p1", 4.5)]
    assert [(d.record["pair_id"], d.reason) for d in dropped] == [
        ("p2", "low_judge_score"), ("p3", "judge_gave_no_score")]
    assert dropped[0].record["score"] == pytest.approx(1.1)  # the score travels with the drop
    assert llm.calls == [("choice_probs", 3)]


def test_rubric_prompt_carries_the_pair():
    chat = judge_chat("What is DPO?", "An alignment method.")
    assert chat[0]["role"] == "system" and "1 to 5" in chat[0]["content"]
    assert "What is DPO?" in chat[1]["content"] and "An alignment method." in chat[1]["content"]
