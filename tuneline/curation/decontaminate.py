"""Decontamination: no training pair may share a long n-gram with held-out or benchmark text.

Texts are compared as word n-grams of the normalised text (case, punctuation and spacing
ignored). n = 8 by default: long enough that common phrases don't match, short enough to
catch a copied one-line question (13-grams, the usual choice for documents, are longer
than most instructions). A conversation's text is every turn but its system prompt (one system
prompt shared by the whole dataset is not evaluation data leaking into training).
"""

from __future__ import annotations

import json
from pathlib import Path

from tuneline.curation.dedup import normalize
from tuneline.params import DecontamParams
from tuneline.records import Dropped, Pair, drop, exchanges

STAGE = "decontaminate"


def ngrams(text: str, n: int) -> set[str]:
    words = normalize(text).split()
    return {" ".join(words[i:i + n]) for i in range(len(words) - n + 1)}


def benchmark_texts(path: str | Path) -> list[tuple[str, str]]:
    """(where, text) for every string field of every line of a JSONL benchmark file."""
    out = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as e:
                raise ValueError(f"benchmark file {path}:{lineno}: not JSON ({e.msg})") from None
            values = record.values() if isinstance(record, dict) else [record]
            out += [(f"{path}:{lineno}", v) for v in values if isinstance(v, str)]
    return out


def turns_text(p: Pair) -> str:
    return "\n".join(f"{q}\n{a}" for q, a in exchanges(p))


def decontaminate(train: list[Pair], test: list[Pair], params: DecontamParams
                  ) -> tuple[list[Pair], list[Dropped]]:
    index: dict[str, str] = {}
    sources = [(f"test pair {p.pair_id}", turns_text(p)) for p in test]
    for path in params.benchmark_files:
        sources += benchmark_texts(path)
    for where, text in sources:
        for gram in ngrams(text, params.ngram):
            index.setdefault(gram, where)
    kept, dropped = [], []
    for pair in train:
        hit = next((g for g in ngrams(turns_text(pair), params.ngram) if g in index), None)
        if hit is None:
            kept.append(pair)
        else:
            dropped.append(drop(STAGE, "overlaps_evaluation_data", pair,
                                f"shares {params.ngram}-gram {hit!r} with {index[hit]}"))
    return kept, dropped
