"""Where a profiled step leaves the GPU idle, and what the host runs then.

    python3 benchmarks/trace_gaps.py TRACE.json[.gz] [--min-ms 2] [--top 12]

Reads a Chrome trace from `torch.profiler` (`benchmarks/gpu_train.py --profile ... --profile-stack`
writes one). Prints the GPU's busy and idle time over the trace, the idle gaps by size, and for
the longest gaps the host's stack (Python functions and torch ops, outermost first) at three
points inside each gap: what the GPU waits for.
"""

from __future__ import annotations

import argparse
import bisect
import gzip
import json
from collections import Counter

GPU = {"kernel", "gpu_memcpy", "gpu_memset"}
HOST = {"python_function", "cpu_op", "user_annotation", "cuda_runtime"}


def load(path: str) -> list[dict]:
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt") as f:
        data = json.load(f)
    events = data["traceEvents"] if isinstance(data, dict) else data
    return [e for e in events if e.get("ph") == "X" and "dur" in e]


def busy_intervals(events: list[dict]) -> list[tuple[float, float]]:
    """The GPU's busy time as merged [start, end) intervals (µs), over all streams."""
    spans = sorted((e["ts"], e["ts"] + e["dur"]) for e in events if e.get("cat") in GPU)
    merged: list[list[float]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(a, b) for a, b in merged]


def gaps(busy: list[tuple[float, float]], min_us: float) -> list[tuple[float, float]]:
    return [(a[1], b[0]) for a, b in zip(busy, busy[1:]) if b[0] - a[1] >= min_us]


def stack_at(host: list[dict], starts: list[float], t: float, depth: int = 14) -> list[str]:
    """The host events (one thread: the one with the most events) open at time t, outermost first."""
    i = bisect.bisect_right(starts, t)
    open_ = [e for e in host[:i] if e["ts"] + e["dur"] >= t]
    open_.sort(key=lambda e: (e["ts"], -e["dur"]))
    names = [f'{e["name"][:110]} ({e["dur"] / 1e3:.1f} ms)' for e in open_]
    return names if len(names) <= depth else names[:3] + ["..."] + names[-(depth - 4):]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("trace")
    p.add_argument("--min-ms", type=float, default=2.0, help="shortest gap to list")
    p.add_argument("--top", type=int, default=12, help="gaps whose host stacks are printed")
    args = p.parse_args()
    events = load(args.trace)
    busy = busy_intervals(events)
    if not busy:
        raise SystemExit(f"{args.trace}: no GPU events (was the trace profiled with CUDA activity?)")
    span = busy[-1][1] - busy[0][0]
    busy_us = sum(b - a for a, b in busy)
    all_gaps = gaps(busy, 0.0)
    sizes = Counter()
    for a, b in all_gaps:
        ms = (b - a) / 1e3
        sizes["< 0.1 ms" if ms < 0.1 else "0.1-1 ms" if ms < 1 else "1-5 ms" if ms < 5 else ">= 5 ms"] += ms
    print(f"GPU span {span / 1e3:.1f} ms, busy {busy_us / 1e3:.1f} ms, idle {(span - busy_us) / 1e3:.1f} ms")
    print("idle time by gap size: " + ", ".join(f"{k}: {v:.1f} ms" for k, v in sorted(sizes.items())))
    threads = Counter(e["tid"] for e in events if e.get("cat") in HOST)
    main_tid = threads.most_common(1)[0][0] if threads else None
    host = sorted((e for e in events if e.get("cat") in HOST and e["tid"] == main_tid),
                  key=lambda e: e["ts"])
    starts = [e["ts"] for e in host]
    long = sorted(gaps(busy, args.min_ms * 1e3), key=lambda g: g[0] - g[1])[: args.top]
    print(f"{len(gaps(busy, args.min_ms * 1e3))} gaps >= {args.min_ms} ms; the longest {len(long)}, in time order:")
    for a, b in sorted(long):
        print(f"\n-- gap {(b - a) / 1e3:.1f} ms at +{(a - busy[0][0]) / 1e3:.1f} ms")
        for share in (0.25, 0.5, 0.75):
            print(f"  at {int(share * 100)}%:")
            for name in stack_at(host, starts, a + share * (b - a)):
                print(f"    {name}")


if __name__ == "__main__":
    main()
