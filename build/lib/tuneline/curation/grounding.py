"""A cheap faithfulness check that needs no LLM: is the answer about its source chunk?

Another chunk first (`fits_another_chunk`, the drop names that chunk):
- an answer that another chunk of the corpus explains clearly better than its own (cosine
  higher by `other_chunk_margin`) was written for that chunk. On the dev set (three seeds,
  and 1,026 real docstring answers against the whole corpus) faithful answers stay within
  0.07 of their best other chunk, while answers taken from a random other chunk are 0.32 or
  more ahead;
- a sibling's answer (`sqlalchemy.cast` asked of `case`, dropout1d of dropout3d) embeds as
  close to its own chunk as to the sibling's, so cosine cannot tell; but it names a key term
  (`CAST`, `1D`, "Normal") that its own chunk never mentions and the other chunk does. With
  the other chunk at least as close, that drops it (`key_term_check`).

Then, against the answer's own chunk, two signals, measured on the same dev set:
- `cosine`: the answer's embedding against the chunk's (the best of the whole chunk and its
  overlapping windows, since a long chunk is truncated by the encoder and an answer often
  covers one part of it);
- `overlap`: the share of the answer's content words (prefixes of 5 letters, so "returns"
  matches "returned") that occur in the chunk.
A pair is dropped only when both are low: an answer written for another chunk fails both,
while a faithful answer that paraphrases keeps a high cosine and one that quotes keeps a
high overlap. Invented facts inside an on-topic answer pass this check; that is the
grounded judge's job (tuneline/curation/judge.py).
"""

from __future__ import annotations

import numpy as np

from tuneline.curation.dedup import Encoder
from tuneline.params import GroundingParams
from tuneline.records import Dropped, Pair, drop
from tuneline.text import atoms, content_stems, key_terms

STAGE = "grounding"


def overlap(answer: str, chunk: str) -> float:
    """Share of the answer's content-word stems found in the chunk (1.0 for an answer
    without content words: there is nothing to contradict)."""
    ans = content_stems(answer)
    return len(ans & content_stems(chunk)) / len(ans) if ans else 1.0


def windows(text: str, words: int = 80, stride: int = 40) -> list[str]:
    w = text.split()
    if len(w) <= words:
        return [text]
    return [" ".join(w[i:i + words]) for i in range(0, len(w) - stride, stride)]


def borrowed_terms(answer: str, own_chunk: str, other_chunk: str) -> list[str]:
    """Key terms of the answer (identifiers, acronyms, numbers, names: text.key_terms) that
    its own chunk never mentions and the other chunk does: `CAST` in an answer about a chunk
    on `CASE`, "Normal" in one about the Gamma distribution."""
    own, other = atoms(own_chunk), atoms(other_chunk)
    return sorted(t for t in key_terms(answer) if t not in own and t in other)


def window_cosine(answer_emb: np.ndarray, own: np.ndarray, chunks: list[str],
                  encode: Encoder) -> np.ndarray:
    """Per answer: the highest cosine between it and a window of its own chunk (-1 for a
    chunk short enough to be embedded whole). Each chunk's windows are encoded once, however
    many answers it has."""
    used = np.unique(own)
    wins = {int(j): windows(chunks[j]) if len(chunks[j].split()) > 80 else [] for j in used}
    flat = [w for j in used for w in wins[int(j)]]
    best = np.full(len(own), -1.0, dtype=np.float32)
    if not flat:
        return best
    emb = np.asarray(encode(flat), dtype=np.float32)
    start, n = {}, 0
    for j in used:
        start[int(j)], n = n, n + len(wins[int(j)])
    for k, j in enumerate(own):
        rows = emb[start[int(j)]:start[int(j)] + len(wins[int(j)])]
        if len(rows):
            best[k] = float((rows @ answer_emb[k]).max())
    return best


def best_other_chunk(answer_emb: np.ndarray, chunk_emb: np.ndarray, own: np.ndarray,
                     block: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """Per answer: the highest cosine with any chunk but its own, and that chunk's index
    (-1 when there is no other chunk); in answer x chunk tiles, never a full matrix."""
    best = np.full(len(answer_emb), -np.inf, dtype=np.float32)
    where = np.full(len(answer_emb), -1, dtype=np.int64)
    for i0 in range(0, len(answer_emb), block):
        rows = slice(i0, i0 + block)
        for j0 in range(0, len(chunk_emb), 8 * block):
            tile = answer_emb[rows] @ chunk_emb[j0:j0 + 8 * block].T
            mine = own[rows] - j0
            inside = (mine >= 0) & (mine < tile.shape[1])
            tile[np.nonzero(inside)[0], mine[inside]] = -np.inf
            arg = tile.argmax(axis=1)
            top = tile[np.arange(len(arg)), arg]
            better = top > best[rows]
            best[rows] = np.where(better, top, best[rows])
            where[rows] = np.where(better, arg + j0, where[rows])
    return best, where


def check_grounding(pairs: list[Pair], chunk_text: dict[str, str], encode: Encoder,
                    params: GroundingParams) -> tuple[list[Pair], list[Dropped], dict]:
    """Drop answers that another chunk of the corpus explains clearly better than their own
    (`fits_another_chunk`), and answers clearly unsupported by their own chunk
    (`unsupported_by_source`); pairs with no chunk in `chunk_text` (imported instruction
    data) pass unchecked and are counted."""
    checked = [i for i, p in enumerate(pairs) if p.chunk_id in chunk_text]
    verdict: dict[int, tuple[str, str]] = {}
    cos = np.zeros(0)
    if checked:
        ids = list(chunk_text)
        texts = [chunk_text[cid] for cid in ids]
        pos = {cid: n for n, cid in enumerate(ids)}
        own = np.array([pos[pairs[i].chunk_id] for i in checked])
        a = np.asarray(encode([pairs[i].answer for i in checked]), dtype=np.float32)
        c_all = np.asarray(encode(texts), dtype=np.float32)
        # own chunk: the whole chunk or its best window (a long chunk is truncated by the
        # encoder and an answer often covers one part of it); another chunk: whole only, so
        # the comparison leans towards keeping
        cos = np.maximum(np.einsum("kd,kd->k", a, c_all[own]), window_cosine(a, own, texts, encode))
        other, other_at = best_other_chunk(a, c_all, own)
        for k, i in enumerate(checked):
            o = overlap(pairs[i].answer, texts[own[k]])
            where = f"chunk={ids[other_at[k]]} cosine={other[k]:.3f} vs own chunk {cos[k]:.3f}"
            if other[k] - cos[k] >= params.other_chunk_margin:
                verdict[i] = ("fits_another_chunk", where)
            elif params.key_term_check and other[k] >= cos[k] and (
                    names := borrowed_terms(pairs[i].answer, texts[own[k]], texts[other_at[k]])):
                verdict[i] = ("fits_another_chunk", f"{where}; names {','.join(names[:4])}, "
                                                    "which only that chunk mentions")
            elif cos[k] < params.min_cosine and o < params.min_overlap:
                verdict[i] = ("unsupported_by_source", f"cosine={cos[k]:.3f} < {params.min_cosine} "
                                                       f"and overlap={o:.2f} < {params.min_overlap}")
    kept, dropped = [], []
    for i, pair in enumerate(pairs):
        if verdict.get(i):
            reason, detail = verdict[i]
            dropped.append(drop(STAGE, reason, pair, detail))
        else:
            kept.append(pair)
    stats = {"checked": len(checked), "without_source_chunk": len(pairs) - len(checked)}
    if checked:
        stats["median_cosine"] = round(float(np.median(cos)), 4)
    return kept, dropped, stats
