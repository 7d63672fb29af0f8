"""A cheap faithfulness check that needs no LLM: is the answer about its source chunk?

Two signals, both measured on the dev set of benchmarks/curation_quality.py:
- `cosine`: the answer's embedding against the chunk's (the best of the whole chunk and its
  overlapping windows, since a long chunk is truncated by the encoder and an answer often
  covers one part of it);
- `overlap`: the share of the answer's content words (prefixes of 5 letters, so "returns"
  matches "returned") that occur in the chunk.
A pair is dropped only when both are low: an answer written for another chunk fails both,
while a faithful answer that paraphrases keeps a high cosine and one that quotes keeps a
high overlap. Invented facts inside an on-topic answer pass this check; that is the
grounded judge's job (tuneline/judge.py).
"""

from __future__ import annotations

import numpy as np

from tuneline.dedup import Encoder
from tuneline.params import GroundingParams
from tuneline.records import Dropped, Pair, drop
from tuneline.text import content_stems

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


def source_cosine(answers: list[str], chunks: list[str], encode: Encoder) -> np.ndarray:
    """Per answer: the highest cosine between it and its chunk or one of the chunk's windows."""
    parts = [[c] + (windows(c) if len(c.split()) > 80 else []) for c in chunks]
    flat = [p for ps in parts for p in ps]
    a = np.asarray(encode(answers), dtype=np.float32)
    c = np.asarray(encode(flat), dtype=np.float32) if flat else np.zeros((0, a.shape[1]), np.float32)
    owner = np.repeat(np.arange(len(parts)), [len(ps) for ps in parts])
    sims = np.einsum("kd,kd->k", c, a[owner])
    best = np.full(len(answers), -1.0, dtype=np.float32)
    np.maximum.at(best, owner, sims)
    return best


def check_grounding(pairs: list[Pair], chunk_text: dict[str, str], encode: Encoder,
                    params: GroundingParams) -> tuple[list[Pair], list[Dropped], dict]:
    """Drop answers clearly unsupported by their chunk; pairs with no chunk in `chunk_text`
    (imported instruction data) pass unchecked and are counted."""
    checked = [i for i, p in enumerate(pairs) if p.chunk_id in chunk_text]
    cos = source_cosine([pairs[i].answer for i in checked],
                        [chunk_text[pairs[i].chunk_id] for i in checked], encode) if checked else []
    verdict: dict[int, tuple[float, float]] = {}
    for i, c in zip(checked, cos):
        verdict[i] = (float(c), overlap(pairs[i].answer, chunk_text[pairs[i].chunk_id]))
    kept, dropped = [], []
    for i, pair in enumerate(pairs):
        c, o = verdict.get(i, (1.0, 1.0))
        if c < params.min_cosine and o < params.min_overlap:
            dropped.append(drop(STAGE, "unsupported_by_source", pair,
                                f"cosine={c:.3f} < {params.min_cosine} and overlap={o:.2f} < {params.min_overlap}"))
        else:
            kept.append(pair)
    stats = {"checked": len(checked), "without_source_chunk": len(pairs) - len(checked)}
    if checked:
        stats["median_cosine"] = round(float(np.median(cos)), 4)
    return kept, dropped, stats
