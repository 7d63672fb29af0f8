"""Embedding dedup: time in encoding (MiniLM, CPU) vs similarity search, same run.

    python benchmarks/embedding_dedup.py [--records 10000 100000]

Records are the synthetic pairs of benchmarks/minhash_dedup.py; instructions and answers are
encoded up front, so "search" is the pair-level similarity search and its checks. Search time must stay
a small share of encoding time (goal <= 10%) for embedding dedup to scale.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from minhash_dedup import synthetic  # noqa: E402

from tuneline.curation.dedup import embedding_dedup, load_encoder  # noqa: E402
from tuneline.params import DedupParams, EmbeddingParams  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, nargs="+", default=[10_000, 100_000])
    args = ap.parse_args()
    params, emb_params = DedupParams(), EmbeddingParams()
    encode = load_encoder(emb_params.model, emb_params.batch_size)
    for n in args.records:
        pairs, _, _ = synthetic(n, 0.1, 0.05)
        texts = list({t: None for p in pairs for t in (p.instruction, p.answer)})
        t0 = time.perf_counter()
        emb = dict(zip(texts, encode(texts)))
        t_encode = time.perf_counter() - t0
        t0 = time.perf_counter()
        kept, dropped = embedding_dedup(pairs, lambda ts: np.stack([emb[t] for t in ts]), params)
        t_search = time.perf_counter() - t0
        print(f"records={n}: encode {t_encode:7.1f} s ({len(texts) / t_encode:6.0f} texts/s)  "
              f"search {t_search:6.2f} s  search/encode {t_search / t_encode:.3f}  "
              f"dropped {len(dropped)}")


if __name__ == "__main__":
    main()
