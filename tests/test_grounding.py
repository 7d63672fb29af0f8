"""The embedding faithfulness check, on real docstrings with the real bundled encoder."""

import inspect
import json
import os.path
import statistics

import pytest

from tuneline.curation.dedup import load_encoder
from tuneline.curation.grounding import check_grounding, overlap
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
        # written for another chunk of the corpus (json.dumps's), asked of splitext's
        Pair("p3", "splitext", "os", "What does os.path.splitext do?",
             doc(json.dumps).split(".")[0] + "."),
        # about nothing in the corpus (statistics.stdev), asked of realpath's
        Pair("p4", "realpath", "os", "What does os.path.realpath return?", doc(statistics.stdev)),
        # imported data: no chunk, not checked
        Pair("p5", "no-such-chunk", "alpaca.jsonl", "What is 2+2?", "Four."),
    ]
    kept, dropped, stats = check_grounding(pairs, chunks, minilm, GroundingParams())
    assert [p.pair_id for p in kept] == ["p1", "p2", "p5"]
    assert [(d.record["pair_id"], d.reason) for d in dropped] == [
        ("p3", "fits_another_chunk"), ("p4", "unsupported_by_source")]
    assert dropped[0].detail.startswith("chunk=dumps cosine=")  # names the chunk it fits
    assert dropped[1].detail.startswith("cosine=") and "overlap=" in dropped[1].detail
    assert stats["checked"] == 4 and stats["without_source_chunk"] == 1


def test_an_answer_whose_chunk_is_duplicated_elsewhere_is_kept(minilm):
    text = doc(json.dumps)[:1200]
    chunks = {"a": text, "b": text, "c": doc(os.path.splitext)}  # the same page ingested twice
    pair = Pair("p", "a", "json", "What does json.dumps do?", doc(json.dumps).split(".")[0] + ".")
    kept, dropped, _ = check_grounding([pair], chunks, minilm, GroundingParams())
    assert kept and not dropped


def test_a_sibling_answer_naming_what_only_another_chunk_mentions_is_dropped(minilm):
    import math

    # two docstrings that differ in one number embed alike; the number tells them apart
    chunks = {"log2": doc(math.log2), "log10": doc(math.log10), "splitext": doc(os.path.splitext)}
    pairs = [Pair("sibling", "log10", "math", "What does math.log10 compute?", doc(math.log2)),
             Pair("faithful", "log10", "math", "What does math.log10 compute?", doc(math.log10))]
    kept, dropped, _ = check_grounding(pairs, chunks, minilm, GroundingParams())
    assert [p.pair_id for p in kept] == ["faithful"]
    assert [(d.record["pair_id"], d.reason) for d in dropped] == [("sibling", "fits_another_chunk")]
    assert dropped[0].detail.startswith("chunk=log2 ") and "names 2," in dropped[0].detail
    # without the key-term check the two cosines are too close to tell
    kept, dropped, _ = check_grounding(pairs, chunks, minilm, GroundingParams(key_term_check=False))
    assert len(kept) == 2
