import math

import pandas as pd
import pytest

from tuneline.records import (
    Chunk,
    Pair,
    drop,
    dropped_frame,
    from_frame,
    ledger,
    stable_id,
    to_frame,
)


def test_frame_round_trip_keeps_records_and_none():
    pairs = [Pair("a", "c", "f.md", "Q?", "A.", None), Pair("b", "c", "f.md", "Q2?", "A2.", 4.5)]
    df = to_frame(pairs, Pair)
    assert list(df.columns) == ["pair_id", "chunk_id", "source", "instruction", "answer", "score"]
    # parquet-style NaN for a missing float comes back as None
    df.loc[0, "score"] = math.nan
    assert from_frame(df, Pair) == pairs


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
