"""Deduplication of pairs on their instruction: exact, MinHash LSH, then embeddings.

Each stage keeps one member of every duplicate group — the best-ranked by `keep_order`
(highest judge score when known, else the earliest in input order, i.e. files and chunks in
order) — and drops the others with `duplicate_of=<kept pair_id>`.
"""

from __future__ import annotations

import hashlib
import re
import string
from typing import Callable

import numpy as np

from tuneline import minhash as mh
from tuneline.params import DedupParams
from tuneline.records import Dropped, Pair, drop

Encoder = Callable[[list[str]], np.ndarray]

_PUNCT = str.maketrans("", "", string.punctuation)


def normalize(text: str) -> str:
    """Case, punctuation and whitespace differences do not make a text new."""
    return re.sub(r"\s+", " ", text.lower().translate(_PUNCT)).strip()


def exact_dedup(pairs: list[Pair]) -> tuple[list[Pair], list[Dropped]]:
    seen: dict[str, str] = {}
    dropped_at: dict[int, Dropped] = {}
    for i in np.argsort(keep_order(pairs), kind="stable").tolist():
        key = hashlib.sha1(normalize(pairs[i].instruction).encode()).hexdigest()
        if key in seen:
            dropped_at[i] = drop("exact_dedup", "exact_duplicate", pairs[i], f"duplicate_of={seen[key]}")
        else:
            seen[key] = pairs[i].pair_id
    kept = [p for i, p in enumerate(pairs) if i not in dropped_at]
    return kept, [dropped_at[i] for i in sorted(dropped_at)]


def keep_order(pairs: list[Pair]) -> np.ndarray:
    """Rank of each pair for "which duplicate survives": highest judge score first when
    scores are known, then input order (files and chunks in order: the earliest copy)."""
    key = sorted(range(len(pairs)), key=lambda i: (-(pairs[i].score or 0.0), i))
    rank = np.empty(len(pairs), dtype=np.int64)
    rank[key] = np.arange(len(pairs))
    return rank


def minhash_signatures(texts: list[str], params: DedupParams, chunk: int = 20_000) -> np.ndarray:
    """Character shingles for short texts, word n-grams for long ones (a one-line instruction
    has too few word 5-grams for MinHash to estimate anything). Records are processed
    `chunk` at a time, so memory stays flat however many there are."""
    sig = np.empty((len(texts), params.num_perm), dtype=np.uint32)
    for lo in range(0, len(texts), chunk):
        part = texts[lo:lo + chunk]
        long = np.array([len(t.split()) >= params.long_text_words for t in part])
        hashes, owners = [], []
        for mask, shingle in ((~long, lambda ts: mh.char_shingle_hashes(ts, params.shingle_chars)),
                              (long, lambda ts: mh.word_shingle_hashes(ts, params.shingle_words))):
            idx = np.nonzero(mask)[0]
            if len(idx):
                h, o = shingle([part[i] for i in idx])
                hashes.append(h)
                owners.append(idx[o])
        h, o = np.concatenate(hashes), np.concatenate(owners)
        order = np.argsort(o, kind="stable")
        sig[lo:lo + len(part)] = mh.signatures(h[order], o[order], len(part), params.num_perm)
    return sig


def minhash_dedup(pairs: list[Pair], params: DedupParams) -> tuple[list[Pair], list[Dropped]]:
    """Near-duplicate instructions by MinHash LSH; one survivor per connected cluster."""
    if not pairs:
        return [], []
    sig = minhash_signatures([normalize(p.instruction) for p in pairs], params)
    rank = keep_order(pairs)
    members, leaders, _ = mh.duplicate_edges(sig, rank, params.minhash_threshold)
    rep = mh.clusters(len(pairs), members, leaders, rank)
    kept, dropped = [], []
    for i, pair in enumerate(pairs):
        r = int(rep[i])
        if r == i:
            kept.append(pair)
        else:
            jaccard = float((sig[i] == sig[r]).mean())
            dropped.append(drop("minhash_dedup", "near_duplicate", pair,
                                f"duplicate_of={pairs[r].pair_id} jaccard={jaccard:.3f}"))
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
    """Drop a pair whose instruction is within `threshold` cosine of a better-ranked kept one
    (rank: `keep_order`). Similarities are computed in block x block tiles, never as an
    n x n matrix, and only the pairs above the threshold are kept from each tile."""
    n = len(pairs)
    if n == 0:
        return [], []
    order = np.argsort(keep_order(pairs), kind="stable")  # position p holds the p-th best pair
    emb = np.asarray(encode([p.instruction for p in pairs]), dtype=np.float32)[order]
    neighbours: list[list[tuple[int, float]]] = [[] for _ in range(n)]
    for i0 in range(0, n, block):
        for j0 in range(0, i0 + block, block):
            tile = emb[i0:i0 + block] @ emb[j0:j0 + block].T
            for r, c in zip(*np.nonzero(tile >= threshold)):
                i, j = i0 + int(r), j0 + int(c)
                if j < i:  # only better-ranked records can make one a duplicate
                    neighbours[i].append((j, float(tile[r, c])))
    kept_mask = np.ones(n, dtype=bool)
    dropped_at: dict[int, Dropped] = {}
    for i in range(n):
        # Only a kept neighbour counts: two duplicates of each other are never both dropped.
        live = [(s, j) for j, s in neighbours[i] if kept_mask[j]]
        if live:
            sim, j = max(live)
            kept_mask[i] = False
            dropped_at[int(order[i])] = drop(
                "embedding_dedup", "semantic_duplicate", pairs[order[i]],
                f"duplicate_of={pairs[order[j]].pair_id} cosine={sim:.3f}")
    kept = [p for k, p in enumerate(pairs) if k not in dropped_at]
    return kept, [dropped_at[k] for k in sorted(dropped_at)]
