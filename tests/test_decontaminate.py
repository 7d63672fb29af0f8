import json

import pytest

from tests.conftest import make_pair
from tuneline.curation.decontaminate import benchmark_texts, decontaminate, ngrams
from tuneline.params import DecontamParams

TEST_Q = "How does gradient checkpointing trade extra compute for lower activation memory in training?"


def test_ngrams_ignore_case_and_punctuation():
    assert ngrams("A b, C d!", 3) == {"a b c", "b c d"}
    assert ngrams("too short", 3) == set()


def test_train_pairs_sharing_a_long_ngram_with_test_are_dropped_with_the_match():
    train = [make_pair(1, "Why does gradient checkpointing trade compute for memory?"),
             make_pair(2, "What learning rate should LoRA use?"),
             make_pair(3, "Tell me, " + TEST_Q.lower())]
    kept, dropped = decontaminate(train, [make_pair(9, TEST_Q, "It recomputes activations.")],
                                  DecontamParams(ngram=8))
    assert [p.pair_id for p in kept] == ["p1", "p2"]
    assert dropped[0].reason == "overlaps_evaluation_data"
    assert "with test pair p9" in dropped[0].detail


def test_benchmark_file_strings_are_held_out(tmp_path):
    bench = tmp_path / "bench.jsonl"
    bench.write_text(json.dumps({"question": "Which LoRA rank do the Unsloth guides recommend by default?",
                                 "answer": "16", "id": 7}) + "\n")
    train = [make_pair(1, "Which LoRA rank do the Unsloth guides recommend by default for SFT?")]
    kept, dropped = decontaminate(train, [], DecontamParams(ngram=6, benchmark_files=[str(bench)]))
    assert not kept and f"{bench}:1" in dropped[0].detail


def test_a_broken_benchmark_file_names_the_line(tmp_path):
    bench = tmp_path / "bench.jsonl"
    bench.write_text('{"q": "fine"}\n{oops\n')
    with pytest.raises(ValueError, match="bench.jsonl:2: not JSON"):
        benchmark_texts(bench)
