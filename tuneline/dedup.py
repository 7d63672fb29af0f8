"""Deduplication of pairs on their instruction: exact, MinHash LSH, then embeddings.

Each stage keeps the first member of a duplicate group in input order (the order is
deterministic: chunks in file order) and drops the others with `duplicate_of=<pair_id>`.
"""

from __future__ import annotations

import hashlib
import re
import string
from typing import Callable

import numpy as np

from tuneline.params import DedupParams
from tuneline.records import Dropped, Pair, drop

Encoder = Callable[[list[str]], np.ndarray]

_PUNCT = str.maketrans("", "", string.punctuation)


def normalize(text: str) -> str:
    """Case, punctuation and whitespace differences do not make a text new."""
    return re.sub(r"\s+", " ", text.lower().translate(_PUNCT)).strip()


def exact_dedup(pairs: list[Pair]) -> tuple[list[Pair], list[Dropped]]:
    seen: dict[str, str] = {}
    kept, dropped = [], []
    for pair in pairs:
        key = hashlib.sha1(normalize(pair.instruction).encode()).hexdigest()
        if key in seen:
            dropped.append(drop("exact_dedup", "exact_duplicate", pair, f"duplicate_of={seen[key]}"))
        else:
            seen[key] = pair.pair_id
            kept.append(pair)
    return kept, dropped


def shingles(text: str, k: int) -> set[bytes]:
    # Character shingles: short instructions have too few word 5-grams for MinHash to work.
    t = normalize(text)
    if len(t) <= k:
        return {t.encode()}
    return {t[i:i + k].encode() for i in range(len(t) - k + 1)}


def minhash_dedup(pairs: list[Pair], params: DedupParams) -> tuple[list[Pair], list[Dropped]]:
    from datasketch import MinHash, MinHashLSH

    lsh = MinHashLSH(threshold=params.minhash_threshold, num_perm=params.num_perm)
    signatures: dict[str, MinHash] = {}
    kept, dropped = [], []
    for pair in pairs:
        mh = MinHash(num_perm=params.num_perm, seed=1)
        mh.update_batch(list(shingles(pair.instruction, params.shingle_chars)))  # vectorised hashing
        # LSH candidates are probable; confirm with the estimated Jaccard before dropping.
        best = max(((mh.jaccard(signatures[c]), c) for c in lsh.query(mh)), default=None)
        if best and best[0] >= params.minhash_threshold:
            dropped.append(drop("minhash_dedup", "near_duplicate", pair,
                                f"duplicate_of={best[1]} jaccard={best[0]:.3f}"))
        else:
            lsh.insert(pair.pair_id, mh)
            signatures[pair.pair_id] = mh
            kept.append(pair)
    return kept, dropped


def load_encoder(name: str, batch_size: int) -> Encoder:
    from sentence_transformers import SentenceTransformer

    from tuneline import models

    model = SentenceTransformer(models.resolve(name), device="cpu")

    def encode(texts: list[str]) -> np.ndarray:
        return model.encode(texts, batch_size=batch_size, normalize_embeddings=True,
                            convert_to_numpy=True, show_progress_bar=len(texts) > batch_size)

    return encode


def embedding_dedup(
    pairs: list[Pair], encode: Encoder, threshold: float, block: int = 2048
) -> tuple[list[Pair], list[Dropped]]:
    """Drop a pair whose instruction is within `threshold` cosine of an earlier kept one.

    Similarities are computed block by block (block x block tiles), never as an n x n matrix.
    """
    n = len(pairs)
    if n == 0:
        return [], []
    emb = np.asarray(encode([p.instruction for p in pairs]), dtype=np.float32)
    neighbours: list[list[tuple[int, float]]] = [[] for _ in range(n)]
    for i0 in range(0, n, block):
        for j0 in range(0, i0 + block, block):
            tile = emb[i0:i0 + block] @ emb[j0:j0 + block].T
            for r, c in zip(*np.nonzero(tile >= threshold)):
                i, j = i0 + int(r), j0 + int(c)
                if j < i:  # only earlier records can make a later one a duplicate
                    neighbours[i].append((j, float(tile[r, c])))
    kept_mask = np.ones(n, dtype=bool)
    kept, dropped = [], []
    for i, pair in enumerate(pairs):
        # Only a kept neighbour counts: two duplicates of each other are never both dropped.
        live = [(s, j) for j, s in neighbours[i] if kept_mask[j]]
        if live:
            sim, j = max(live)
            kept_mask[i] = False
            dropped.append(drop("embedding_dedup", "semantic_duplicate", pair,
                                f"duplicate_of={pairs[j].pair_id} cosine={sim:.3f}"))
        else:
            kept.append(pair)
    return kept, dropped
