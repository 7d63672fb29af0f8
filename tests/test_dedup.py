"""Pair-level dedup. The pinned cases use real text (stdlib and numpy docstrings)."""

import inspect
import json
import os.path

import numpy as np
import pytest

from tests.conftest import make_pair
from tuneline.curation.dedup import (
    dedup,
    embedding_dedup,
    entity_conflict,
    exact_dedup,
    load_encoder,
    minhash_dedup,
    normalize,
)
from tuneline.params import DedupParams
from tuneline.records import Pair
from tuneline.text import key_terms


def doc(obj) -> str:
    return " ".join(inspect.getdoc(obj).split("\n\n")[0].split())


def pair(pid, instruction, answer, score=None):
    return Pair(pid, f"c-{pid}", "doc.md", instruction, answer, score)


# templated instructions that differ in one entity, each answered by its own real docstring
HARD_NEGATIVES = [
    ("What does `str.lstrip` do?", doc(str.lstrip), "What does `str.rstrip` do?", doc(str.rstrip)),
    ("What is the purpose of str.isdigit?", doc(str.isdigit),
     "What is the purpose of str.isdecimal?", doc(str.isdecimal)),
    ("Explain os.path.isfile.", doc(os.path.isfile), "Explain os.path.isdir.", doc(os.path.isdir)),
    ("What does numpy.argmax return?", doc(np.argmax), "What does numpy.argmin return?", doc(np.argmin)),
    ("How does json.dump work?", doc(json.dump), "How does json.dumps work?", doc(json.dumps)),
    # two options of one program, whose descriptions in its manual (util-linux hardlink(1))
    # differ in a word or two (generate.option_entries asks of each)
    ("What does the --minimum-size size option of hardlink do?",
     "The minimum size to consider. By default this is 1, so empty files will not be linked. The "
     "size argument may be followed by the multiplicative suffixes KiB (=1024), MiB (=1024*1024), "
     "and so on for GiB, TiB, PiB, EiB, ZiB and YiB (the \"iB\" is optional, e.g., \"K\" has the "
     "same meaning as \"KiB\").",
     "What does the --maximum-size size option of hardlink do?",
     "The maximum size to consider. By default this is 0 and 0 has the special meaning of "
     "unlimited. The size argument may be followed by the multiplicative suffixes KiB (=1024), "
     "MiB (=1024*1024), and so on for GiB, TiB, PiB, EiB, ZiB and YiB (the \"iB\" is optional, "
     "e.g., \"K\" has the same meaning as \"KiB\")."),
]


def test_normalize_ignores_case_punctuation_and_spacing():
    assert normalize("  What IS   LoRA?! ") == normalize("what is lora") == "what is lora"


def test_exact_dedup_needs_the_same_instruction_and_the_same_answer():
    pairs = [pair("p1", "What is LoRA?", "A low-rank adapter."),
             pair("p2", "what is  LoRA", "a low-rank adapter"),
             pair("p3", "What is LoRA?", "Low-rank adaptation: trainable rank-r matrices beside frozen weights.")]
    kept, dropped = exact_dedup(pairs)
    assert [p.pair_id for p in kept] == ["p1", "p3"]  # same question, another answer: kept
    assert dropped[0].reason == "exact_duplicate" and dropped[0].detail == "duplicate_of=p1"


def test_key_terms_are_identifiers_numbers_and_names_not_plain_words():
    assert key_terms("What does `numpy.argmax` do?") == {"numpy", "argmax"}
    assert key_terms("How do I reset it in the Android app on version 3.2?") == {"android", "3", "2"}
    assert key_terms("Why use snake_case or camelCase in HTTP APIs?") == {"snake_case", "camelcase", "http", "apis"}
    assert key_terms("What is the purpose of gradient checkpointing?") == set()
    assert key_terms("WHAT DOES THE FUNCTION DO?") == set()  # capitals everywhere name nothing
    assert key_terms("What does the --print0 option do, and -v?") == {"print0", "v"}  # options
    assert key_terms("A well-known, self-hosted tool - see below.") == set()


@pytest.mark.parametrize("q1, a1, q2, a2", HARD_NEGATIVES)
def test_templated_entities_with_their_own_answers_conflict(q1, a1, q2, a2):
    assert entity_conflict(pair("a", q1, a1), pair("b", q2, a2))


@pytest.mark.parametrize("q1, a1, q2, a2", HARD_NEGATIVES)
def test_hard_negatives_survive_the_minhash_stage_even_at_loose_thresholds(q1, a1, q2, a2):
    pairs = [pair("a", q1, a1), pair("b", q2, a2)]
    loose = DedupParams(minhash_threshold=0.2, near_instruction_jaccard=0.2, near_answer_jaccard=0.2)
    kept, dropped = minhash_dedup(pairs, loose)
    assert len(kept) == 2, dropped[0].detail


@pytest.fixture(scope="module")
def minilm():
    return load_encoder("bundled:all-minilm-l6-v2", batch_size=16)


def test_hard_negatives_survive_every_stage_with_the_real_encoder(minilm):
    pairs = [pair(f"{n}{s}", q, a) for n, case in enumerate(HARD_NEGATIVES)
             for s, (q, a) in (("a", case[:2]), ("b", case[2:]))]
    stages = dedup(pairs, DedupParams(), minilm)
    assert [len(d) for *_, d in stages] == [0, 0, 0]


def test_a_paraphrased_pair_of_real_text_is_found_by_the_embedding_stage(minilm):
    answer = doc(os.path.realpath)  # "Return the canonical path of the specified filename, ..."
    first, rest = answer.split(", ", 1)
    reworded = (f"It eliminates {rest.removeprefix('eliminating ')} and gives back "
                f"{first.removeprefix('Return ')[0].lower() + first.removeprefix('Return ')[1:]}.")
    pairs = [pair("p1", "What does os.path.realpath do?", answer),
             pair("p2", "Can you explain what `os.path.realpath` is used for?", reworded),
             pair("p3", "What does os.path.relpath do?", doc(os.path.relpath))]
    stages = dedup(pairs, DedupParams(), minilm)
    (_, _, _, d_exact), (_, _, _, d_near), (_, _, kept, d_emb) = stages
    assert not d_exact and not d_near  # too reworded for shingles
    assert [p.pair_id for p in kept] == ["p1", "p3"]
    assert d_emb[0].reason == "semantic_duplicate"
    assert d_emb[0].detail.startswith("duplicate_of=p1 instruction_cosine=")
    assert "answer_cosine=" in d_emb[0].detail


def test_minhash_catches_a_near_duplicate_pair_and_says_how_similar():
    answer = doc(json.loads)
    pairs = [pair("p1", "How does json.loads parse a document?", answer),
             pair("p2", "How does json.loads parse a document ?", answer.replace("Deserialize", "Deserialise")),
             pair("p3", "What learning rate is a good starting point for LoRA fine-tuning?", answer[::-1])]
    kept, dropped = minhash_dedup(pairs, DedupParams())
    assert [p.pair_id for p in kept] == ["p1", "p3"]
    assert dropped[0].reason == "near_duplicate"
    assert dropped[0].detail.startswith("duplicate_of=p1 instruction_jaccard=")


def test_same_question_with_a_different_answer_is_not_a_near_duplicate():
    q = "What does the checkpoint_every parameter control?"
    pairs = [pair("p1", q, "How many optimizer steps pass between two saved checkpoints."),
             pair("p2", q, "Zero turns periodic checkpoints off, so a crashed run starts over.")]
    assert len(minhash_dedup(pairs, DedupParams())[0]) == 2


def unit(*rows):
    v = np.array(rows, dtype=np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def encoder_for(pairs, q_vecs, a_vecs):
    table = {}
    for p, q, a in zip(pairs, q_vecs, a_vecs):
        table[p.instruction], table[p.answer] = q, a
    return lambda texts: np.stack([table[t] for t in texts])


def test_embedding_stage_needs_similar_answers_not_only_similar_instructions():
    pairs = [make_pair(0, "q0", "a0"), make_pair(1, "q1", "a1"), make_pair(2, "q2", "a2")]
    q = unit([1, 0], [1, 0.01], [1, 0.02])  # three near-identical instructions
    a = unit([1, 0], [1, 0.01], [0, 1])  # the third answers something else
    kept, dropped = embedding_dedup(pairs, encoder_for(pairs, q, a), DedupParams(entity_check=False))
    assert [p.pair_id for p in kept] == ["p0", "p2"]
    assert dropped[0].detail.startswith("duplicate_of=p0 ")


def test_chains_do_not_merge_distinct_pairs_and_tiling_does_not_matter():
    # 0~1 and 1~2 are duplicates, 0 and 2 are not: 1 goes, 0 and 2 stay
    pairs = [make_pair(i, f"q{i}", f"a{i}") for i in range(4)]
    q = unit([1, 0, 0], [0.9, 0.43, 0], [0.6, 0.8, 0], [0, 0, 1])
    params = DedupParams(embedding_instruction_threshold=0.85, embedding_answer_threshold=0.85,
                         entity_check=False)
    for block in (1, 2, 1024):
        kept, dropped = embedding_dedup(pairs, encoder_for(pairs, q, q), params, block=block)
        assert [p.pair_id for p in kept] == ["p0", "p2", "p3"]
        assert [d.record["pair_id"] for d in dropped] == ["p1"]


def test_the_best_scored_duplicate_survives():
    pairs = [make_pair(0, "q0", "a0", score=2.0), make_pair(1, "q1", "a1", score=4.0),
             make_pair(2, "q2", "a2", score=1.0)]
    v = unit([1, 0], [1, 0.01], [0, 1])
    kept, dropped = embedding_dedup(pairs, encoder_for(pairs, v, v), DedupParams(entity_check=False))
    assert [p.pair_id for p in kept] == ["p1", "p2"]
    assert dropped[0].detail.startswith("duplicate_of=p1 ")
    copies = [make_pair(1, "What is LoRA?", "x", score=2.0), make_pair(2, "what is lora", "x", score=4.0)]
    kept, dropped = exact_dedup(copies)
    assert [p.pair_id for p in kept] == ["p2"]


def test_a_kept_vector_equals_a_fresh_one_and_only_new_texts_are_encoded(tmp_path):
    from tuneline.llm.cache import CallCache
    from tuneline.llm.shared import FolderStore, Tiered

    texts = ["LoRA trains low-rank adapters.", "The base weights stay frozen.",
             "A longer sentence about packing several short examples into one training row."]
    fresh = load_encoder("bundled:all-minilm-l6-v2", batch_size=16)(texts)
    store = FolderStore(str(tmp_path / "stack"))
    first = load_encoder("bundled:all-minilm-l6-v2", 16,
                         cache=Tiered(CallCache(tmp_path / "a.sqlite"), store))
    assert (first(texts) == fresh).all()  # one text per forward on the CPU: bit for bit
    # another machine, its own empty cache, the stack's folder: only the new text is encoded
    other = load_encoder("bundled:all-minilm-l6-v2", 16,
                         cache=Tiered(CallCache(tmp_path / "b.sqlite"), store))
    more = other(texts + ["A new sentence."])
    assert (more[:3] == fresh).all() and other.usage == {"calls": 1, "cached_calls": 3}
