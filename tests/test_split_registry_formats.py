
import pytest

from tests.conftest import make_pair
from tuneline.curation.split import split_pairs, split_preferences
from tuneline.params import SplitParams
from tuneline.records import Preference
from tuneline.train.formats import dpo_rows, sft_rows


def test_split_is_stable_and_never_leaves_a_side_empty():
    pairs = [make_pair(i, f"Question {i}?") for i in range(20)]
    train, test = split_pairs(pairs, SplitParams(test_fraction=0.2, seed=1))
    assert len(train) + len(test) == 20 and test and train
    assert split_pairs(list(reversed(pairs)), SplitParams(test_fraction=0.2, seed=1))[1] == list(reversed(test))
    # a tiny share still holds out one pair, a large one still trains on one
    train2, test2 = split_pairs(pairs[:2], SplitParams(test_fraction=0.01))
    assert len(train2) == 1 and len(test2) == 1
    train3, test3 = split_pairs(pairs[:2], SplitParams(test_fraction=0.99))
    assert len(train3) == 1 and len(test3) == 1
    with pytest.raises(ValueError, match="at least 2"):
        split_pairs(pairs[:1], SplitParams())


def test_added_pairs_move_no_training_pair_into_the_test_split():
    params = SplitParams(test_fraction=0.2, seed=7)
    first = [make_pair(i, f"Question {i}?") for i in range(50)]
    train, _ = split_pairs(first, params)
    for more in (1, 10, 200):
        grown = first + [make_pair(1000 + i, f"New question {i}?") for i in range(more)]
        _, test = split_pairs(grown, params)
        assert not {p.pair_id for p in train} & {p.pair_id for p in test}, more
    # removed pairs move none either way
    train_less, test_less = split_pairs(first[10:], params)
    assert {p.pair_id for p in train_less} <= {p.pair_id for p in train}


def test_the_test_share_is_the_configured_fraction_on_many_pairs():
    pairs = [make_pair(i, f"Question {i}?") for i in range(4000)]
    _, test = split_pairs(pairs, SplitParams(test_fraction=0.2))
    assert abs(len(test) / 4000 - 0.2) < 0.02


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


def test_preferences_go_with_pairs_that_decontamination_dropped():
    from tuneline.curation.split import follow_decontamination

    train = [make_pair("a", "Qa?"), make_pair("c", "Qc?")]
    prefs = [Preference(pid, "q", "good", "bad", 4.0, 2.0) for pid in ("pa", "pb", "pc")]
    kept, dropped = follow_decontamination(prefs, train)
    assert [p.pair_id for p in kept] == ["pa", "pc"]
    assert [(d.record["pair_id"], d.reason) for d in dropped] == [("pb", "pair_overlaps_evaluation_data")]


def test_each_candidate_is_evaluated_once_and_identical_adapters_are_not_measured_again(
        tmp_path, fake_llm, monkeypatch):
    from tuneline.params import EvalParams, JudgeParams
    from tuneline.ship.evaluate import evaluate_candidates

    sft, dpo, copy_sft, copy_dpo = (tmp_path / n for n in ("sft", "dpo", "psft", "pdpo"))
    for folder, content in ((sft, b"s"), (dpo, b"d"), (copy_sft, b"s"), (copy_dpo, b"d")):
        folder.mkdir()
        (folder / "adapter.safetensors").write_bytes(content)
    loaded = []

    def load(label, adapters):  # the measuring itself is tested with real models in tests/pipelines
        loaded.append(label)
        return "llm", "model", "tok"

    import tuneline.ship.evaluate as ev

    measured = []
    # the control flow is what is tested here: which candidates get measured
    monkeypatch.setattr(ev, "evaluate_model",
                        lambda llm, model, tok, test, general, judge, judging, params, label, system: (
                            measured.append(label) or ({"eval_loss": {"base": 3.0, "tuned": 2.0}.get(label, 2.5)},
                                                       [{"model": label, "item_id": "t"}])))
    metrics, rows = evaluate_candidates(
        [("base", "m", []), ("tuned", "m", [sft, dpo]), ("production", "m", [copy_sft, copy_dpo]),
         ("other", "another-base", [copy_sft, copy_dpo])],
        load, [make_pair("t", "Q?")], [], fake_llm(), JudgeParams(), EvalParams())
    assert loaded == measured == ["base", "tuned", "other"]  # another base: another model
    assert metrics["production"] == {"eval_loss": 2.0, "same_as": "tuned"}
    # the copy's answers are the twin's, under its own label: the gate pairs them item by item
    assert [r["model"] for r in rows] == ["base", "tuned", "production", "other"]
