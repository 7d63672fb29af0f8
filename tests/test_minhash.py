"""The MinHash engine against datasketch, the reference implementation."""

import re

import numpy as np
import pytest
from datasketch import MinHash, MinHashLSH

from tests.conftest import make_pair
from tuneline.curation import minhash as mh
from tuneline.curation.dedup import minhash_signatures
from tuneline.params import DedupParams


def word_ngrams(text: str, n: int = 3) -> set:
    w = re.findall(r"\w+", text.lower())
    return {tuple(w)} if len(w) < n else set(zip(*(w[i:] for i in range(n))))


def real_texts() -> list[str]:
    """Docstrings of numpy functions: real text of the lengths answers have."""
    out = []
    for name in sorted(dir(np)):
        doc = getattr(getattr(np, name), "__doc__", None)
        if callable(getattr(np, name)) and doc and len(doc.split()) > 40:
            out.append(" ".join(doc.split()[:80]))
    return out[:60]


def edited(text: str, rng: np.random.Generator, k: int) -> str:
    words = text.split()
    for _ in range(k):
        words[int(rng.integers(len(words)))] = f"edit{int(rng.integers(1000))}"
    return " ".join(words)


def test_signature_agreement_estimates_jaccard_as_well_as_datasketch():
    rng = np.random.default_rng(0)
    base = real_texts()
    texts = [t for b in base for t in (b, edited(b, rng, int(rng.integers(0, 25))))]
    h, o = mh.shingle_hashes(texts, 3)
    ours = mh.signatures(h, o, len(texts), 128)
    err_ours, err_ref = [], []
    for i in range(0, len(texts), 2):
        a, b = word_ngrams(texts[i]), word_ngrams(texts[i + 1])
        truth = len(a & b) / len(a | b)
        ref_a, ref_b = MinHash(num_perm=128, seed=1), MinHash(num_perm=128, seed=1)
        ref_a.update_batch([" ".join(g).encode() for g in a])
        ref_b.update_batch([" ".join(g).encode() for g in b])
        err_ours.append((ours[i] == ours[i + 1]).mean() - truth)
        err_ref.append(ref_a.jaccard(ref_b) - truth)
    rmse = lambda e: float(np.sqrt(np.mean(np.square(e))))
    assert abs(np.mean(err_ours)) < 0.02  # unbiased
    assert rmse(err_ours) < 1.3 * rmse(err_ref) + 0.01  # as precise as classical MinHash


def test_shingles_are_word_ngrams_of_lowercased_words():
    h, o = mh.shingle_hashes(["Numpy.ArgMax returns the INDEX", "numpy argmax returns the index!"], 3)
    assert np.bincount(o).tolist() == [3, 3]  # 5 words: 3 trigrams each
    assert set(h[o == 0]) == set(h[o == 1])  # case and punctuation do not make a text new


def test_texts_shorter_than_a_shingle_and_empty_texts_get_a_signature():
    h, o = mh.shingle_hashes(["ab", "a much longer text here", "ab", "", "é ü"], 3)
    sig = mh.signatures(h, o, 5, 32)
    assert (sig[0] == sig[2]).all() and not (sig[0] == sig[1]).all()
    assert not (sig[3] == sig[0]).all() and not (sig[4] == sig[0]).all()


def test_chunking_does_not_change_signatures():
    pairs = [make_pair(i, f"Question number {i} about the text?", f"Answer {i % 7} words here.")
             for i in range(50)]
    params = DedupParams()
    for whole, chunked in zip(minhash_signatures(pairs, params), minhash_signatures(pairs, params, chunk=7)):
        assert (whole == chunked).all()


@pytest.mark.parametrize("threshold", [0.3, 0.5, 0.8, 0.9])
def test_lsh_bands_and_rows_are_those_datasketch_chooses(threshold):
    ref = MinHashLSH(threshold=threshold, num_perm=128)
    assert mh.lsh_params(threshold, 128) == (ref.b, ref.r)


def test_candidates_find_what_datasketch_lsh_finds_on_real_text():
    rng = np.random.default_rng(1)
    base = real_texts()
    texts = base + [edited(b, rng, 3) for b in base[:30]]
    h, o = mh.shingle_hashes(texts, 3)
    cand = {tuple(e) for e in mh.candidate_pairs(mh.signatures(h, o, len(texts), 128), 0.5).tolist()}
    planted = {(i, len(base) + i) for i in range(30)}
    assert planted <= cand
    lsh = MinHashLSH(threshold=0.5, num_perm=128)
    ref = set()
    for i, t in enumerate(texts):
        m = MinHash(num_perm=128)
        m.update_batch([" ".join(g).encode() for g in word_ngrams(t)])
        ref |= {(int(j), i) for j in lsh.query(m)}
        lsh.insert(str(i), m)
    assert planted <= ref
    # at the threshold itself LSH finds a pair with probability ~0.6 (either library); well
    # above it, every real match datasketch proposes, we propose too
    clear = {(i, j) for i, j in ref if len(word_ngrams(texts[i]) & word_ngrams(texts[j]))
             / len(word_ngrams(texts[i]) | word_ngrams(texts[j])) >= 0.7}
    assert clear and clear <= cand


def test_big_buckets_stay_linear():
    sig = np.zeros((500, 16), dtype=np.uint32)  # 500 identical signatures: one bucket per band
    edges = mh.candidate_pairs(sig, 0.8)
    assert len(edges) <= 64 * 500  # each record meets at most 63 neighbours and the star's centre
    assert {j for i, j in edges.tolist() if i == 0} == set(range(1, 500))
