import math

import pandas as pd
import pytest

from tuneline.records import (
    Chunk,
    Pair,
    Preference,
    drop,
    dropped_frame,
    from_frame,
    ledger,
    messages,
    stable_id,
    to_frame,
)


def test_frame_round_trip_keeps_records_and_none():
    pairs = [Pair("a", "c", "f.md", "Q?", "A.", None), Pair("b", "c", "f.md", "Q2?", "A2.", 4.5)]
    df = to_frame(pairs, Pair)
    assert list(df.columns) == ["pair_id", "chunk_id", "source", "instruction", "answer", "score",
                                "system", "history"]
    # parquet-style NaN for a missing float comes back as None
    df.loc[0, "score"] = math.nan
    assert from_frame(df, Pair) == pairs


def test_a_conversation_survives_a_parquet_round_trip_with_every_turn(tmp_path):
    talk = Pair("c", "", "chat.jsonl:1", "And for lists?", "Use sorted().", 4.0,
                system="Answer in one line.",
                history=(("How do I sort a dict?", "Sort its items."), ("By value?", "Pass key=.")))
    df = to_frame([talk, Pair("p", "", "f.md", "Q?", "A.")], Pair)
    assert df["history"].map(type).tolist() == [str, str]  # a flat column: hashable, readable
    df.to_parquet(tmp_path / "pairs.parquet")
    back = from_frame(pd.read_parquet(tmp_path / "pairs.parquet"), Pair)
    assert back[0] == talk and back[1].history == () and back[1].system == ""
    assert messages(back[0])[0] == {"role": "system", "content": "Answer in one line."}
    assert [m["role"] for m in messages(back[0])] == ["system"] + ["user", "assistant"] * 3


def test_a_frame_written_before_conversations_existed_loads_as_single_turn_pairs():
    # the columns of an artifact stored by a version before `system` and `history`
    old = pd.DataFrame([{"pair_id": "a", "chunk_id": "c", "source": "f.md", "instruction": "Q?",
                         "answer": "A.", "score": 3.5}])
    pair, = from_frame(old, Pair)
    assert (pair.system, pair.history, pair.score) == ("", (), 3.5)
    old_pref = pd.DataFrame([{"pair_id": "a", "instruction": "Q?", "chosen": "A.",
                              "rejected": "B.", "chosen_score": 4.0, "rejected_score": 2.0}])
    assert from_frame(old_pref, Preference)[0].history == ()


def test_empty_frame_has_columns():
    assert list(to_frame([], Chunk).columns) == ["chunk_id", "doc_id", "source", "text", "title",
                                                 "section"]


def test_from_frame_rejects_unknown_columns():
    with pytest.raises(ValueError, match="no fields"):
        from_frame(pd.DataFrame([{"chunk_id": "x", "bogus": 1}]), Chunk)


def test_ledger_counts_reasons_and_refuses_to_lose_records():
    dropped = [drop("filter", "too_short", {"pair_id": "1"}), drop("filter", "too_short", {"pair_id": "2"}),
               drop("filter", "spam", {"pair_id": "3"})]
    assert ledger("filter", 5, 2, dropped) == {
        "inputs": 5, "kept": 2, "dropped": 3, "dropped_by_reason": {"spam": 1, "too_short": 2}}
    with pytest.raises(AssertionError, match="does not balance"):
        ledger("filter", 6, 2, dropped)


def test_dropped_frame_keeps_the_whole_record():
    df = dropped_frame([drop("judge", "low_judge_score", Pair("p", "c", "s", "Q?", "A."), "1.2 < 2.5")])
    row = df.iloc[0]
    assert (row.stage, row.reason, row.detail, row.record_id) == ("judge", "low_judge_score", "1.2 < 2.5", "p")
    assert '"instruction": "Q?"' in row.record


def test_stable_id_is_deterministic_and_separates_parts():
    assert stable_id("a", "b") == stable_id("a", "b")
    assert stable_id("ab", "c") != stable_id("a", "bc")


def test_only_a_cut_conversation_counts_as_kept_and_dropped_in_the_ledger():
    pair = Pair("a", "c", "f.md", "Q?", "A.")
    # a source check's own reason that happens to start with "truncated"
    assert ledger("grounding", 2, 1, [drop("grounding", "truncated_text", pair)])["dropped"] == 1
    with pytest.raises(AssertionError, match="does not balance"):
        ledger("grounding", 1, 1, [drop("grounding", "truncated_text", pair)])
    # a conversation cut short: its head kept, the whole in the ledger
    assert ledger("judge", 1, 1, [drop("judge", "truncated:low_judge_score", pair)])["kept"] == 1
