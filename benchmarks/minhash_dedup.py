"""Pair-level MinHash dedup: tuneline vs datasketch's bulk API and rensa, same data, same run.

Records are instruction/answer pairs: a templated question about an entity and an answer of
40-90 words drawn from the vocabulary of real numpy docstrings. Planted among them:
- near duplicates (a few words of the answer edited, maybe a typo in the question);
- hard negatives: the same question template about a sibling entity, whose answer is the
  original's with the entity swapped (as sibling docstrings are: `lstrip` / `rstrip`).
Every engine sees the same word 3-gram shingles of the normalised pair text (tuneline
computes them in numpy; the baselines get them built in Python, which their users must
do too: that time is counted). The baselines:
- datasketch: `MinHash.bulk` (its batch API) + `MinHashLSH` insert/query, threshold 0.8;
- rensa: its simplest per-record API, `RMinHash.update` + `RMinHashLSH` query/insert;
both drop a record whose LSH query finds an earlier kept one. tuneline runs its full
`minhash_dedup` stage (LSH at 0.5, exact verification of instruction and answer, key-term
check), on a thread per core and on one thread. Prints records/s (median of --repeats runs), ratios against each baseline, and
precision/recall on the planted duplicates plus false merges of hard negatives.

    python benchmarks/minhash_dedup.py [--records 100000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import re
import statistics
import time

import numpy as np

from tuneline.curation.dedup import minhash_dedup, normalize
from tuneline.params import DedupParams
from tuneline.records import Pair

TEMPLATES = ["What does `{e}` do?", "What is {e} used for?", "Explain the {e} function.",
             "How do I call {e} correctly?"]


def vocabulary() -> np.ndarray:
    words = set()
    for name in dir(np):
        doc = getattr(getattr(np, name), "__doc__", None) or ""
        words.update(re.findall(r"[a-z]{3,}", doc.lower()))
    return np.array(sorted(words))


def synthetic(n: int, dup_share: float, hard_share: float, seed: int = 0):
    rng = np.random.default_rng(seed)
    vocab = vocabulary()
    pairs, planted_dup, planted_hard = [], {}, {}
    originals = []
    for i in range(n):
        r = rng.random()
        if originals and r < dup_share:
            src = originals[int(rng.integers(len(originals)))]
            q, a = pairs[src].instruction, pairs[src].answer.split()
            for _ in range(int(rng.integers(1, 4))):
                a[int(rng.integers(len(a)))] = str(rng.choice(vocab))
            if rng.random() < 0.3:
                q = q.replace("What", "Waht")
            pairs.append(Pair(str(i), "c", "s", q, " ".join(a)))
            planted_dup[i] = src
        elif originals and r < dup_share + hard_share:
            src = originals[int(rng.integers(len(originals)))]
            entity = pairs[src].instruction.split("`")[1] if "`" in pairs[src].instruction else None
            if entity is None:
                pairs.append(Pair(str(i), "c", "s", f"What does `fn{i}` do?", " ".join(rng.choice(vocab, 60))))
                originals.append(i)
                continue
            sibling = f"{entity[:-2]}z{i}"  # a name of its own: two siblings are not copies
            pairs.append(Pair(str(i), "c", "s", pairs[src].instruction.replace(entity, sibling),
                              pairs[src].answer.replace(entity, sibling)))
            planted_hard[i] = src
        else:
            entity = f"pkg{int(rng.integers(100))}.{rng.choice(vocab)}{int(rng.integers(100))}"
            q = TEMPLATES[int(rng.integers(len(TEMPLATES)))].format(e=entity)
            words = list(rng.choice(vocab, int(rng.integers(40, 90))))
            words.insert(int(rng.integers(len(words))), entity)
            pairs.append(Pair(str(i), "c", "s", q, " ".join(words)))
            originals.append(i)
    return pairs, planted_dup, planted_hard


def shingles(pair: Pair) -> list[bytes]:
    w = normalize(f"{pair.instruction} {pair.answer}").split()
    return [f"{a} {b} {c}".encode() for a, b, c in zip(w, w[1:], w[2:])]


def datasketch_bulk(pairs: list[Pair], num_perm: int) -> set[int]:
    from datasketch import MinHash, MinHashLSH

    sigs = MinHash.bulk([shingles(p) for p in pairs], num_perm=num_perm)
    lsh = MinHashLSH(threshold=0.8, num_perm=num_perm)
    dropped = set()
    for i, m in enumerate(sigs):
        if lsh.query(m):
            dropped.add(i)
        else:
            lsh.insert(i, m)
    return dropped


def rensa_simple(pairs: list[Pair], num_perm: int) -> set[int]:
    from rensa import RMinHash, RMinHashLSH

    lsh = RMinHashLSH(threshold=0.8, num_perm=num_perm, num_bands=16)
    dropped = set()
    for i, p in enumerate(pairs):
        m = RMinHash(num_perm=num_perm, seed=42)
        m.update([s.decode() for s in shingles(p)])
        if lsh.query(m):
            dropped.add(i)
        else:
            lsh.insert(i, m)
    return dropped


def tuneline(pairs: list[Pair], num_perm: int, workers: int | None = None) -> set[int]:
    _, dropped = minhash_dedup(pairs, DedupParams(num_perm=num_perm, workers=workers))
    return {int(d.record["pair_id"]) for d in dropped}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--dup-share", type=float, default=0.1)
    ap.add_argument("--hard-share", type=float, default=0.05)
    args = ap.parse_args()
    pairs, dups, hard = synthetic(args.records, args.dup_share, args.hard_share)
    print(f"records={args.records} planted near duplicates={len(dups)} hard negatives={len(hard)} "
          f"num_perm=128 repeats={args.repeats} (median)")
    results = {}
    for name, fn in (("tuneline minhash_dedup (pair-level)", tuneline),
                     ("tuneline, one thread", lambda ps, k: tuneline(ps, k, workers=1)),
                     ("datasketch MinHash.bulk + MinHashLSH", datasketch_bulk),
                     ("rensa RMinHash + RMinHashLSH (per record)", rensa_simple)):
        times = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            dropped = fn(pairs, 128)
            times.append(time.perf_counter() - t0)
        secs = statistics.median(times)
        tp = len(dropped & set(dups))
        results[name] = args.records / secs
        print(f"{name:42} {secs:7.2f} s {args.records / secs:9.0f} records/s  "
              f"precision {tp / max(1, len(dropped)):.3f}  recall {tp / max(1, len(dups)):.3f}  "
              f"hard negatives merged {len(dropped & set(hard))}")
    ours = results["tuneline minhash_dedup (pair-level)"]
    for name, rate in results.items():
        if not name.startswith("tuneline"):
            print(f"tuneline / {name.split()[0]}: {ours / rate:.2f}x")


if __name__ == "__main__":
    main()
