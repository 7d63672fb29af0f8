"""The embedding faithfulness check, on real docstrings with the real bundled encoder."""

import inspect
import json
import os.path

import pytest

from tuneline.dedup import load_encoder
from tuneline.grounding import check_grounding, overlap
from tuneline.params import GroundingParams
from tuneline.records import Pair
from tuneline.text import content_overlap


def doc(obj) -> str:
    return " ".join(inspect.getdoc(obj).split())


@pytest.fixture(scope="module")
def minilm():
    return load_encoder("bundled:all-minilm-l6-v2", batch_size=16)


def test_overlap_counts_content_words_of_the_answer_found_in_the_chunk():
    chunk = "Return the canonical path of the specified filename, eliminating symbolic links."
    assert overlap("It returns the canonical path and eliminates links.", chunk) == 1.0  # stems
    assert overlap("Draws samples from a Zipf distribution.", chunk) == 0.0
    assert content_overlap("Yes.", "No.") == 0.0  # no content words: no evidence of sameness


def test_an_answer_written_for_another_chunk_is_dropped_and_faithful_ones_kept(minilm):
    chunks = {"dumps": doc(json.dumps)[:1200], "realpath": doc(os.path.realpath),
              "splitext": doc(os.path.splitext)}
    pairs = [
        # faithful, quoting
        Pair("p1", "dumps", "json", "What does json.dumps do?", doc(json.dumps).split(".")[0] + "."),
        # faithful, in other words
        Pair("p2", "realpath", "os", "What does os.path.realpath do?",
             "It resolves symbolic links and hands back the canonical path for a file name."),
        # written for another chunk (json.loads), asked of splitext's
        Pair("p3", "splitext", "os", "What does os.path.splitext do?", doc(json.loads).split(".")[0] + "."),
        # imported data: no chunk, not checked
        Pair("p4", "no-such-chunk", "alpaca.jsonl", "What is 2+2?", "Four."),
    ]
    kept, dropped, stats = check_grounding(pairs, chunks, minilm, GroundingParams())
    assert [p.pair_id for p in kept] == ["p1", "p2", "p4"]
    assert [(d.record["pair_id"], d.reason) for d in dropped] == [("p3", "unsupported_by_source")]
    assert dropped[0].detail.startswith("cosine=") and "overlap=" in dropped[0].detail
    assert stats["checked"] == 3 and stats["without_source_chunk"] == 1
