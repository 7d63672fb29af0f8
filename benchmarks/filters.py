"""Rule filters over the 100k synthetic records of benchmarks/minhash_dedup.py.

Prints records/s for the full rule set, the time share of each rule, and the ratio to a
baseline measured in the same run (the two length rules alone).

    python benchmarks/filters.py [--records 100000]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from minhash_dedup import synthetic  # noqa: E402

from tuneline.curation.filters import FILTERS, answer_length, apply_filters, instruction_length  # noqa: E402
from tuneline.params import FilterParams  # noqa: E402
from tuneline.records import Pair  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=100_000)
    args = ap.parse_args()
    texts = [p.instruction for p in synthetic(args.records, 0.1, 0.0)[0]]
    rng = np.random.default_rng(1)
    # answers: 3-6 instruction-like sentences, some looping, some with code fences
    pairs = []
    for i, t in enumerate(texts):
        body = " ".join(texts[int(j)] for j in rng.integers(0, len(texts), int(rng.integers(3, 7))))
        if i % 20 == 0:
            body = (t + " ") * 8
        if i % 50 == 0:
            body += "\n```python\nx = [1, 2, 3]\n```"
        pairs.append(Pair(str(i), "c", "s", t, body))
    params = FilterParams()

    t0 = time.perf_counter()
    apply_filters(pairs, params, (instruction_length, answer_length))
    base = time.perf_counter() - t0
    t0 = time.perf_counter()
    kept, dropped = apply_filters(pairs, params)
    full = time.perf_counter() - t0

    shares = {}
    for f in FILTERS:
        t0 = time.perf_counter()
        for p in pairs:
            f(p, params)
        shares[f.__name__] = time.perf_counter() - t0
    total = sum(shares.values())
    print(f"records={len(pairs)} kept={len(kept)} dropped={len(dropped)}")
    print(f"all rules    : {full:6.2f} s  {len(pairs) / full:8.0f} records/s")
    print(f"length rules : {base:6.2f} s  {len(pairs) / base:8.0f} records/s  (baseline)")
    print(f"all / baseline time: {full / base:.1f}x")
    print("time share per rule (each over every record): "
          + ", ".join(f"{k} {v / total:.0%}" for k, v in sorted(shares.items(), key=lambda x: -x[1])))


if __name__ == "__main__":
    main()
