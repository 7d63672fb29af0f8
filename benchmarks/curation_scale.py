"""Curation at a million records on this machine: each stage on one process vs every core,
and embedding search with the approximate index vs exact tiles, side by side in one run.

Records: instruction/answer pairs built from the vocabulary of real numpy docstrings
(benchmarks/minhash_dedup.py's generator: templated questions about entities, 5% near
duplicates, 5% sibling hard negatives), 6% of them given junk answers the rules drop
(refusals, repeated lines, HTML residue, too short). Stages, each run `--repeats` times
alternating modes, median wall time and the stage's peak RSS (sampled every 20 ms):
- rule filters: one process (today's path) vs a process per core (the new path); a thread per
  core on the first 100,000 (what the GIL allows);
- exact dedup: keys on one process vs every core;
- MinHash dedup: signatures on one thread vs a thread per core.

Embedding search (the part of embedding dedup that grows as n^2):
- synthetic vectors (384-d, clustered, 5% planted near copies) at --ann-records: the
  IVF index's time and its recall of the planted pairs; exact tiles at --exact-records and
  at sizes below it (the crossover that sets ann_min_records), the index's recall against
  them, and exact tiles at --ann-records extrapolated from their measured n^2 growth;
- real text: all-MiniLM-L6-v2 embeddings of --real-records docstring first lines of
  installed packages, index vs exact tiles at the instruction threshold (recall of edges).

    python benchmarks/curation_scale.py [--records 1000000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import os
import pkgutil
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from minhash_dedup import synthetic  # noqa: E402

from tuneline import parallel
from tuneline.curation import dedup, filters  # noqa: E402
from tuneline.params import DedupParams, FilterParams  # noqa: E402
from tuneline.records import Pair  # noqa: E402

JUNK = ["I'm sorry, but as an AI language model I cannot help with that request.",
        "Step one.\nStep one.\nStep one.\nStep one.\nStep one.",
        "<div><p>See <b>the</b> docs &nbsp; <a href='x'>here</a></p></div> for details.",
        "Yes."]
PAGE = os.sysconf("SC_PAGE_SIZE")


def records(n: int) -> list[Pair]:
    pairs, _, _ = synthetic(n, 0.05, 0.05)
    rng = np.random.default_rng(7)
    for i in rng.choice(n, int(0.06 * n), replace=False).tolist():
        p = pairs[i]
        pairs[i] = Pair(p.pair_id, p.chunk_id, p.source, p.instruction, JUNK[i % len(JUNK)])
    return pairs


def rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE / 2**20


def measured(fn):
    """(seconds, peak RSS MiB during the call, result)."""
    peak, done = [rss_mib()], threading.Event()

    def sample():
        while not done.wait(0.02):
            peak.append(rss_mib())

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    start = time.perf_counter()
    out = fn()
    dt = time.perf_counter() - start
    done.set()
    t.join()
    return dt, max(peak + [rss_mib()]), out


THREAD_SAMPLE = 100_000  # threads only show the GIL's effect: a sample of the records is enough


def threads_filters(items, params):
    """The rules on a thread per core (the GIL-bound alternative to processes)."""
    fn = partial(filters.first_reason, params=params)
    with ThreadPoolExecutor(parallel.cores()) as pool:
        return list(pool.map(fn, items, chunksize=2000))


def stage_table(n: int, repeats: int) -> None:
    t, _, items = measured(lambda: records(n))
    print(f"\n{n:,} records generated in {t:.0f} s, RSS {rss_mib():,.0f} MiB, {parallel.cores()} cores")
    kept = filters.apply_filters(items, FilterParams(workers=1))[0]
    unique = dedup.exact_dedup(kept, workers=1)[0]
    sample = items[:THREAD_SAMPLE]
    stages = {
        "rule filters": (items, {
            "one process": lambda: filters.apply_filters(items, FilterParams(workers=1)),
            "process per core": lambda: filters.apply_filters(items, FilterParams())}),
        f"rule filters, first {len(sample):,}": (sample, {
            "one process": lambda: filters.apply_filters(sample, FilterParams(workers=1)),
            "thread per core": lambda: threads_filters(sample, FilterParams())}),
        "exact dedup": (kept, {
            "one process": lambda: dedup.exact_dedup(kept, workers=1),
            "process per core": lambda: dedup.exact_dedup(kept)}),
        "MinHash dedup": (unique, {
            "one thread": lambda: dedup.minhash_dedup(unique, DedupParams(workers=1)),
            "thread per core": lambda: dedup.minhash_dedup(unique, DedupParams())}),
    }
    print(f"| stage | records in | mode | s (median of {repeats}) | records/s | vs one | peak RSS MiB |")
    print("|---|---|---|---|---|---|---|")
    for stage, (inputs, modes) in stages.items():
        times = {m: [] for m in modes}
        peaks = {m: 0.0 for m in modes}
        results = {}
        for _ in range(repeats):
            for mode, fn in modes.items():
                dt, peak, out = measured(fn)
                times[mode].append(dt)
                peaks[mode] = max(peaks[mode], peak)
                results[mode] = out
        base = statistics.median(next(iter(times.values())))
        for mode in modes:
            med = statistics.median(times[mode])
            print(f"| {stage} | {len(inputs):,} | {mode} | {med:.1f} | {len(inputs) / med:,.0f} | "
                  f"{base / med:.2f}x | {peaks[mode]:,.0f} |")
        if not stage.startswith("rule filters"):  # (the thread mode returns reasons only)
            outs = list(results.values())
            assert all(o == outs[0] for o in outs), f"{stage}: the modes disagree"


def clustered(n: int, dim: int = 384, seed: int = 0) -> tuple[np.ndarray, set]:
    """Unit vectors around n/50 topics; 5% are near copies (noise 0.25) of another vector."""
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((max(1, n // 50), dim)).astype(np.float32)
    x = np.empty((n, dim), dtype=np.float32)
    for lo in range(0, n, 100_000):
        hi = min(n, lo + 100_000)
        x[lo:hi] = centers[rng.integers(0, len(centers), hi - lo)]
        x[lo:hi] += 0.9 * rng.standard_normal((hi - lo, dim)).astype(np.float32)
    dup = rng.choice(n, n // 20, replace=False)
    src = rng.integers(0, n, len(dup))
    keep = dup != src
    dup, src = dup[keep], src[keep]
    x[dup] = x[src] + 0.25 * rng.standard_normal((len(dup), dim)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    planted = {(min(a, b), max(a, b)) for a, b in zip(dup.tolist(), src.tolist())}
    return x, planted


def edges(ij: np.ndarray) -> set:
    return set(map(tuple, ij.tolist()))


def search_table(ann_n: int, exact_n: int, repeats: int, threshold: float, nprobe: int) -> None:
    print(f"\nEmbedding search at cosine >= {threshold} (384-d synthetic; IVF nprobe={nprobe})")
    print("| records | exact tiles s | index s | index vs exact | index recall of exact edges | exact edges |")
    print("|---|---|---|---|---|---|")
    sizes = sorted({s for s in (10_000, 30_000, exact_n // 3, exact_n) if 0 < s <= exact_n})
    fit = []
    for n in sizes:
        x, _ = clustered(n, seed=n)
        te, ta = [], []
        for _ in range(repeats):
            dt, _, (eij, _) = measured(lambda: dedup.similar_pairs(x, threshold))
            te.append(dt)
            dt, _, (aij, _) = measured(lambda: dedup.ann_similar_pairs(x, threshold, nprobe))
            ta.append(dt)
        e, a = edges(eij), edges(aij)
        me, ma = statistics.median(te), statistics.median(ta)
        fit.append((n, me))
        print(f"| {n:,} | {me:.2f} | {ma:.2f} | {me / ma:.2f}x | {len(a & e) / max(1, len(e)):.4f} | {len(e):,} |")
    # exact tiles grow as n^2: extrapolate from the largest measured size
    n0, t0 = fit[-1]
    x, planted = clustered(ann_n, seed=ann_n)
    truth = {p for p in planted if float(x[p[0]] @ x[p[1]]) >= threshold}
    ta, peak = [], 0.0
    for _ in range(repeats):
        dt, pk, (aij, _) = measured(lambda: dedup.ann_similar_pairs(x, threshold, nprobe))
        ta.append(dt)
        peak = max(peak, pk)
    a = edges(aij)
    ma = statistics.median(ta)
    est = t0 * (ann_n / n0) ** 2
    print(f"\nAt {ann_n:,} records: index {ma:.1f} s (peak RSS {peak:,.0f} MiB), recall of the "
          f"{len(truth):,} planted near-copy edges {len(a & truth) / max(1, len(truth)):.4f}; "
          f"exact tiles extrapolated {est:,.0f} s ({n0:,} measured x ({ann_n:,}/{n0:,})^2): "
          f"{est / ma:.0f}x")


def docstring_lines(limit: int) -> list[str]:
    """First lines of docstrings of installed third-party packages (real, templated-looking
    technical text; nothing written for this benchmark)."""
    seen, out = set(), []
    for top in ("numpy", "pandas", "torch", "transformers", "datasets", "zenml", "trl", "peft",
                "sentence_transformers", "faiss", "yaml", "pyarrow", "openai"):
        try:
            pkg = importlib.import_module(top)
        except Exception:
            continue
        names = [m.name for m in pkgutil.walk_packages(getattr(pkg, "__path__", []), top + ".",
                                                        onerror=lambda _: None)
                 if not any(part.startswith(("test", "_", "conftest", "setup", "bench"))
                            for part in m.name.split(".")[1:])][:400]
        for name in [top, *names]:
            try:
                mod = importlib.import_module(name)
            except BaseException:  # noqa: BLE001 (a module may exit, skip or need a device)
                continue
            try:
                members = inspect.getmembers(mod)
            except BaseException:  # noqa: BLE001 (lazy modules import on attribute access)
                continue
            for _, obj in members:
                doc = inspect.getdoc(obj) if callable(obj) else None
                line = doc.strip().splitlines()[0].strip() if doc and doc.strip() else ""
                if 4 <= len(line.split()) <= 40 and line not in seen:
                    seen.add(line)
                    out.append(line)
                    if len(out) >= limit:
                        return out
    return out


def real_text_table(n: int, threshold: float, nprobe: int) -> None:
    from tuneline.curation.dedup import load_encoder

    lines = docstring_lines(n)
    encode = load_encoder("bundled:all-minilm-l6-v2", 64, "cpu")
    t = time.perf_counter()
    x = np.asarray(encode(lines), dtype=np.float32)
    print(f"\nReal text: {len(lines):,} docstring first lines, embedded in {time.perf_counter() - t:.0f} s")
    te, _, (eij, _) = measured(lambda: dedup.similar_pairs(x, threshold))
    print("| nprobe | exact edges | index recall | index s | exact s |")
    print("|---|---|---|---|---|")
    for probe in sorted({4, nprobe, 64}):
        ta, _, (aij, _) = measured(lambda: dedup.ann_similar_pairs(x, threshold, probe))
        e, a = edges(eij), edges(aij)
        print(f"| {probe} | {len(e):,} | {len(a & e) / max(1, len(e)):.4f} | {ta:.2f} | {te:.2f} |")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--ann-records", type=int, default=1_000_000)
    ap.add_argument("--exact-records", type=int, default=100_000)
    ap.add_argument("--real-records", type=int, default=20_000)
    ap.add_argument("--skip", nargs="*", default=[], choices=["stages", "search", "real"])
    args = ap.parse_args()
    params = DedupParams()
    if "stages" not in args.skip:
        stage_table(args.records, args.repeats)
    if "search" not in args.skip:
        search_table(args.ann_records, args.exact_records, args.repeats,
                     params.embedding_instruction_threshold, params.ann_nprobe)
    if "real" not in args.skip:
        real_text_table(args.real_records, params.embedding_instruction_threshold, params.ann_nprobe)


if __name__ == "__main__":
    main()
