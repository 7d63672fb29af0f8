"""Embedding dedup: time in encoding (MiniLM, CPU) vs similarity search, same run.

    python benchmarks/embedding_dedup.py [--records 10000 100000]

Texts are the synthetic instructions of benchmarks/minhash_dedup.py. Search time must stay
a small share of encoding time (goal <= 10%) for embedding dedup to scale.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


sys.path.insert(0, str(Path(__file__).parent))
from minhash_dedup import synthetic  # noqa: E402

from tuneline.dedup import embedding_dedup, load_encoder  # noqa: E402
from tuneline.params import DedupParams  # noqa: E402
from tuneline.records import Pair  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, nargs="+", default=[10_000, 100_000])
    args = ap.parse_args()
    params = DedupParams()
    encode = load_encoder(params.embedding_model, params.embedding_batch_size)
    for n in args.records:
        texts, _ = synthetic(n, 0.1)
        pairs = [Pair(str(i), "c", "s", t, "a") for i, t in enumerate(texts)]
        t0 = time.perf_counter()
        emb = encode(texts)
        t_encode = time.perf_counter() - t0
        t0 = time.perf_counter()
        kept, dropped = embedding_dedup(pairs, lambda _: emb, params.embedding_threshold)
        t_search = time.perf_counter() - t0
        print(f"records={n}: encode {t_encode:7.1f} s ({n / t_encode:6.0f}/s)  "
              f"search {t_search:6.2f} s  search/encode {t_search / t_encode:.3f}  "
              f"dropped {len(dropped)}")


if __name__ == "__main__":
    main()
