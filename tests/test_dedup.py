import numpy as np
import pytest

from tests.conftest import make_pair
from tuneline.dedup import embedding_dedup, exact_dedup, load_encoder, minhash_dedup, normalize
from tuneline.params import DedupParams


def test_normalize_ignores_case_punctuation_and_spacing():
    assert normalize("  What IS   LoRA?! ") == normalize("what is lora") == "what is lora"


def test_exact_dedup_keeps_first_and_names_it():
    pairs = [make_pair(1, "What is LoRA?"), make_pair(2, "what is  LoRA"), make_pair(3, "What is QLoRA?")]
    kept, dropped = exact_dedup(pairs)
    assert [p.pair_id for p in kept] == ["p1", "p3"]
    assert dropped[0].reason == "exact_duplicate" and dropped[0].detail == "duplicate_of=p1"


def test_minhash_catches_near_duplicates_of_short_instructions():
    pairs = [
        make_pair(1, "How does gradient checkpointing reduce activation memory during training?"),
        make_pair(2, "How does gradient checkpointing reduce the activation memory during training?"),
        make_pair(3, "What learning rate is a good starting point for LoRA fine-tuning?"),
    ]
    kept, dropped = minhash_dedup(pairs, DedupParams())
    assert [p.pair_id for p in kept] == ["p1", "p3"]
    assert dropped[0].reason == "near_duplicate" and dropped[0].detail.startswith("duplicate_of=p1 jaccard=")


def unit(*rows):
    v = np.array(rows, dtype=np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_embedding_dedup_keeps_one_of_each_group_blockwise():
    # 0~1~2 form a chain of near-duplicates; 3 is distinct; 4 duplicates 3.
    vecs = unit([1, 0, 0], [0.99, 0.05, 0], [0.98, 0.1, 0], [0, 1, 0], [0, 0.99, 0.05])
    pairs = [make_pair(i, f"instruction {i}") for i in range(5)]
    for block in (1, 2, 1024):  # tiling must not change the result
        kept, dropped = embedding_dedup(pairs, lambda texts: vecs, threshold=0.95, block=block)
        assert [p.pair_id for p in kept] == ["p0", "p3"]
        assert {d.record["pair_id"]: d.detail.split()[0] for d in dropped} == {
            "p1": "duplicate_of=p0", "p2": "duplicate_of=p0", "p4": "duplicate_of=p3"}


def test_two_mutual_duplicates_are_never_both_dropped():
    vecs = unit([1, 0], [1, 0.01])
    kept, dropped = embedding_dedup([make_pair(0, "a"), make_pair(1, "b")], lambda t: vecs, 0.9)
    assert len(kept) == 1 and len(dropped) == 1


@pytest.fixture(scope="module")
def minilm():
    return load_encoder("bundled:all-minilm-l6-v2", batch_size=16)


def test_real_minilm_finds_paraphrases_but_keeps_distinct_questions(minilm):
    pairs = [
        make_pair(1, "What is the purpose of gradient checkpointing?"),
        make_pair(2, "What's the purpose of gradient checkpointing?"),
        make_pair(3, "How do I merge a LoRA adapter into the base model?"),
        make_pair(4, "Which chat template does SmolLM2 use?"),
    ]
    kept, dropped = embedding_dedup(pairs, minilm, threshold=0.95)
    assert [p.pair_id for p in kept] == ["p1", "p3", "p4"]
    assert dropped[0].record["pair_id"] == "p2"


def test_embedding_dedup_keeps_the_best_scored_duplicate():
    vecs = unit([1, 0], [1, 0.01], [0, 1])
    pairs = [make_pair(0, "a", score=2.0), make_pair(1, "b", score=4.0), make_pair(2, "c", score=1.0)]
    kept, dropped = embedding_dedup(pairs, lambda t: vecs, 0.95)
    assert [p.pair_id for p in kept] == ["p1", "p2"]
    assert dropped[0].detail.startswith("duplicate_of=p1 ")


def test_exact_dedup_keeps_the_best_scored_copy():
    pairs = [make_pair(1, "What is LoRA?", score=2.0), make_pair(2, "what is lora", score=4.0)]
    kept, dropped = exact_dedup(pairs)
    assert [p.pair_id for p in kept] == ["p2"] and dropped[0].detail == "duplicate_of=p2"
