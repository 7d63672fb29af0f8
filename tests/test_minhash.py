import numpy as np

from tests.conftest import make_pair
from tuneline import minhash as mh
from tuneline.dedup import minhash_dedup, minhash_signatures
from tuneline.params import DedupParams


def exact_jaccard(a: str, b: str, k: int = 5) -> float:
    sa = {a[i:i + k] for i in range(len(a) - k + 1)}
    sb = {b[i:i + k] for i in range(len(b) - k + 1)}
    return len(sa & sb) / len(sa | sb)


def test_signatures_estimate_jaccard():
    rng = np.random.default_rng(0)
    base = "".join(rng.choice(list("abcdefghij "), 400))
    texts = [base, base[:300] + base[300:][::-1], base[:200] + "x" * 200]
    hashes, owners = mh.char_shingle_hashes(texts, 5)
    sig = mh.signatures(hashes, owners, 3, num_perm=256)
    for j in (1, 2):
        est = (sig[0] == sig[j]).mean()
        assert abs(est - exact_jaccard(texts[0], texts[j])) < 0.08


def test_chunking_does_not_change_signatures():
    texts = [f"record number {i} with some text" for i in range(50)] + ["ab"]
    hashes, owners = mh.char_shingle_hashes(texts, 5)
    big = mh.signatures(hashes, owners, len(texts), 64)
    small = mh.signatures(hashes, owners, len(texts), 64, max_cells=64 * 7)  # records straddle chunks
    assert (big == small).all()


def test_texts_shorter_than_a_shingle_still_get_a_signature():
    hashes, owners = mh.char_shingle_hashes(["ab", "a longer text", "ab"], 5)
    sig = mh.signatures(hashes, owners, 3, 32)
    assert (sig[0] == sig[2]).all() and not (sig[0] == sig[1]).all()


def test_word_ngrams_catch_long_near_duplicates():
    long_a = " ".join(f"w{i}" for i in range(80))
    long_b = long_a.replace("w40", "changed")
    pairs = [make_pair(0, long_a), make_pair(1, "something else entirely, short"), make_pair(2, long_b)]
    kept, dropped = minhash_dedup(pairs, DedupParams(minhash_threshold=0.8))
    assert [p.pair_id for p in kept] == ["p0", "p1"] and dropped[0].record["pair_id"] == "p2"
    sig = minhash_signatures([long_a, long_b], DedupParams(long_text_words=1000))  # char path
    assert (sig[0] == sig[1]).mean() > 0.8


def test_the_best_scored_member_of_a_cluster_survives():
    q = "How does gradient checkpointing reduce activation memory during training?"
    pairs = [make_pair(0, q, score=2.0), make_pair(1, q.replace("reduce", "lower"), score=4.5),
             make_pair(2, q.lower() + " ", score=3.0)]
    kept, dropped = minhash_dedup(pairs, DedupParams(minhash_threshold=0.7))
    assert [p.pair_id for p in kept] == ["p1"]
    assert all(d.detail.startswith("duplicate_of=p1 ") for d in dropped)
