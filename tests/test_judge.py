from dataclasses import replace

import pytest

from tests.conftest import make_pair
from tuneline.curation.judge import (
    RUBRIC,
    agreement,
    combine,
    expected_score,
    judge_chat,
    judge_pairs,
    parse_score,
    score,
)
from tuneline.curation.preferences import build_preferences
from tuneline.params import GenerateParams, JudgeParams, PreferenceParams


def test_expected_score_normalises_over_the_digits():
    assert expected_score([0, 0, 0, 0, 1.0]) == (5.0, 1.0)
    value, mass = expected_score([0.1, 0.1, 0.2, 0.2, 0.2])
    assert mass == pytest.approx(0.8) and value == pytest.approx((0.1 + 0.2 + 0.6 + 0.8 + 1.0) / 0.8)


def test_a_judge_that_does_not_answer_with_a_digit_gives_no_score():
    assert expected_score([0.05, 0.05, 0.05, 0.05, 0.05]) == (None, pytest.approx(0.25))


@pytest.mark.parametrize("reply, value", [
    ("Score: 4", 4.0),
    ("score = 3.5 because it is partly right", 3.5),
    ('{"score": 2, "reason": "off topic"}', 2.0),
    ('Here you go: {"reason": "fine", "score": "5"}', 5.0),
    ("I would rate it 4/5.", 4.0),
    ("4 out of 5", 4.0),
    ("3", 3.0),
    ("2.", 2.0),
    ("The rating is 1.", 1.0),
])
def test_parse_score_accepts_the_usual_formats(reply, value):
    assert parse_score(reply) == value


@pytest.mark.parametrize("reply", ["", "Great answer!", "Score: excellent", "Score: 9", "10/5",
                                   '{"score": "high"}', "It covers 3 points."])
def test_parse_score_refuses_what_is_not_a_1_to_5_score(reply):
    assert parse_score(reply) is None


def test_text_judge_retries_unparseable_replies_then_gives_up(fake_llm):
    llm = fake_llm(replies=["Score: 4", "Nice.", "Hmm", "Score: 2", "still no"])
    items = [("Q1?", "A1"), ("Q2?", "A2"), ("Q3?", "A3")]
    verdicts = score(llm, items, JudgeParams(method="text", retries=1))
    assert [v for v, _ in verdicts] == [4.0, 2.0, None]
    assert verdicts[2][1] == "still no"  # the reply is kept for the quarantine record
    assert llm.calls == [("generate", 3), ("generate", 2)]


def test_judge_pairs_keeps_scores_drops_low_and_quarantines_non_answers(fake_llm):
    pairs = [make_pair(1, "Q one?"), make_pair(2, "Q two?"), make_pair(3, "Q three?")]
    llm = fake_llm(probs=[[0, 0, 0, 0.5, 0.5], [0.9, 0.1, 0, 0, 0], [0.01, 0, 0, 0, 0.01]])
    kept, dropped, jury = judge_pairs(pairs, [llm], JudgeParams(min_score=2.5))
    assert [(p.pair_id, p.score) for p in kept] == [("p1", 4.5)]
    assert [(d.record["pair_id"], d.reason) for d in dropped] == [
        ("p2", "low_judge_score"), ("p3", "judge_gave_no_score")]
    assert dropped[0].record["score"] == pytest.approx(1.1)  # the score travels with the drop
    assert "digit probability 0.02" in dropped[1].detail
    assert llm.calls == [("choice_probs", 3)] and jury == {}


def test_a_jury_combines_scores_and_reports_agreement(fake_llm):
    pairs = [make_pair(1, "Q one?"), make_pair(2, "Q two?")]
    a = fake_llm(replies=["Score: 4", "Score: 2"])
    b = fake_llm(replies=["Score: 5", "no idea"])
    c = fake_llm(replies=["Score: 4", "Score: 2"])
    kept, dropped, jury = judge_pairs(pairs, [a, b, c], JudgeParams(method="text", retries=0,
                                                                    aggregate="majority"))
    assert [(p.pair_id, p.score) for p in kept] == [("p1", 4.0)]
    assert dropped[0].reason == "low_judge_score"
    assert jury["exact_agreement"] == 0.5 and jury["items_with_two_or_more_scores"] == 2
    assert jury["judge_means"] == [3.0, 5.0, 3.0]


def test_combine():
    assert combine([4.0, 5.0, None], "mean") == 4.5
    assert combine([4.2, 3.9, 1.0], "majority") == 4.0
    assert combine([None, None], "mean") is None
    assert agreement([[1.0], [None]]) == {"items_with_two_or_more_scores": 0}


def test_rubric_prompt_carries_the_pair():
    chat = judge_chat("What is DPO?", "An alignment method.")
    assert chat[0]["role"] == "system" and "1 to 5" in chat[0]["content"]
    assert "What is DPO?" in chat[1]["content"] and "An alignment method." in chat[1]["content"]


def test_with_its_source_the_judge_grades_faithfulness_to_it():
    chat = judge_chat("What does json.dumps return?", "A JSON string.", "Serialize obj to a JSON formatted str.")
    assert "faithful" in chat[0]["content"] and "source" in chat[0]["content"]
    assert chat[1]["content"].startswith("Source:\nSerialize obj to a JSON formatted str.")
    assert "Question: What does json.dumps return?" in chat[1]["content"]
    assert judge_chat("Q?", "A.")[0]["content"] == RUBRIC  # no source: the reference-free rubric


class RecordingLLM:
    """Scores every chat 4.0 and keeps the chats it was asked about."""

    name = "recording"

    def __init__(self):
        self.chats = []
        self.usage = {}

    def choice_probs(self, chats, prefix, choices, *, desc=""):
        self.chats += chats
        return [[0, 0, 0, 1.0, 0] for _ in chats]

    def generate(self, chats, **kw):
        raise AssertionError("a judge is not asked to write answers")


def test_judge_pairs_shows_each_pair_its_own_chunk_and_skips_the_source_when_unknown():
    pairs = [make_pair(1, "Q one?"), make_pair(2, "Q two?")]
    llm = RecordingLLM()
    kept, dropped, _ = judge_pairs(pairs, [llm], JudgeParams(), {"c1": "The first chunk."})
    assert len(kept) == 2 and not dropped
    assert llm.chats[0][1]["content"].startswith("Source:\nThe first chunk.")
    assert "Source:" not in llm.chats[1][1]["content"]  # c2 unknown: reference-free


def test_preference_candidates_are_scored_by_the_judge_not_the_generator(fake_llm):
    pairs = [replace(make_pair(1, "What does json.dumps return?"), score=4.5)]
    generator = fake_llm(replies=["A wrong, made-up answer about YAML files."])
    judge_llm = RecordingLLM()  # scores 4.0 -> margin 0.5 over nothing: chosen is the kept answer
    prefs, dropped = build_preferences(pairs, generator, [judge_llm], GenerateParams(), JudgeParams(),
                                       PreferenceParams(min_margin=0.1), {"c1": "Serialize obj to a JSON str."})
    assert generator.calls == [("generate", 1)]  # the generator only wrote the candidate
    assert len(judge_llm.chats) == 1  # the judge scored it, against the same chunk
    assert judge_llm.chats[0][1]["content"].startswith("Source:\nSerialize obj to a JSON str.")
    assert prefs[0].chosen == pairs[0].answer and prefs[0].rejected_score == 4.0


def test_a_judge_that_scores_another_questions_answer_as_high_stops_filtering(fake_llm):
    from tuneline.curation.judge import auroc, judge_pairs
    from tuneline.records import Pair

    pairs = [Pair(f"p{i}", "c", "a.md", f"What does option {i} set?", f"Option {i} sets value {i}.")
             for i in range(6)]
    blind = fake_llm(probs=[[0.0, 0.9, 0.1, 0.0, 0.0]] * 12)  # the same low score for everything
    kept, dropped, stats = judge_pairs(pairs, [blind], JudgeParams(separation_probes=6))
    assert stats["separation"] == {"probes": 6, "auroc": 0.5, "separates": False, "filtering": False}
    assert len(kept) == 6 and dropped == [] and all(p.score < 2.5 for p in kept)  # recorded, not used
    assert auroc([4.0, 3.0], [1.0, 3.0]) == 0.875


def test_a_judge_that_prefers_each_pairs_own_answer_keeps_filtering(fake_llm):
    from tuneline.curation.judge import judge_pairs
    from tuneline.records import Pair

    pairs = [Pair(f"p{i}", f"c{i % 3}", "a.md", f"What does option {i} set?", f"Option {i} sets value {i}.")
             for i in range(6)]
    chunks = {f"c{i}": f"chunk {i}" for i in range(3)}
    high, low = [0.0, 0.0, 0.0, 0.1, 0.9], [0.9, 0.1, 0.0, 0.0, 0.0]
    # the six pairs (the last one scored low), then six probes with another chunk's answer
    judge = fake_llm(probs=[high] * 5 + [low] + [low] * 6)
    kept, dropped, stats = judge_pairs(pairs, [judge], JudgeParams(separation_probes=6), chunks)
    assert stats["separation"]["filtering"] and stats["separation"]["auroc"] > 0.75
    assert [d.record["pair_id"] for d in dropped] == ["p5"] and len(kept) == 5


def test_a_passage_of_the_source_is_chosen_over_the_models_own_answer_whatever_the_judge_says(fake_llm):
    chunk = "Serialize obj to a JSON formatted str using this conversion table and the given options."
    answer = "Serialize obj to a JSON formatted str using this conversion table"  # a passage of it
    pairs = [replace(make_pair(1, "What does json.dumps return?", answer), score=2.0)]
    generator = fake_llm(replies=["It writes a YAML file to disk."])
    judge_llm = RecordingLLM()  # scores the invented answer 4.0, above the passage's 2.0
    prefs, dropped = build_preferences(pairs, generator, [judge_llm], GenerateParams(), JudgeParams(),
                                       PreferenceParams(), {"c1": chunk})
    assert not dropped and prefs[0].chosen == answer and prefs[0].rejected == "It writes a YAML file to disk."
    assert (prefs[0].chosen_score, prefs[0].rejected_score) == (2.0, 4.0)  # recorded, not deciding
    judged, _ = build_preferences(pairs, fake_llm(replies=["It writes a YAML file to disk."]), [RecordingLLM()],
                                  GenerateParams(), JudgeParams(), PreferenceParams(chosen="judged"),
                                  {"c1": chunk})
    assert judged[0].chosen == "It writes a YAML file to disk."  # the judge's ranking
