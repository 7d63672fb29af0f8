"""Per-record Python work (rule filters, normalised keys) on every core, in forked processes.

Processes, not threads: the rules are pure Python and hold the GIL (threads measured at 1.0x
on 2 cores, processes at 1.8-1.9x: benchmarks/curation_scale.py). Not Ray: one machine's
cores are the whole pool, a fork shares the records without copying or pickling them, and
only the small results (a reason, a key) travel back; a Ray cluster would first have to
receive every record. The records are handed to the children by fork (copy-on-write), so a
chunk's task is just its bounds.

Where fork is not the platform's way (macOS, Windows) or the input is small, the same
function runs in this process: results are identical either way (tests check it).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

# Below this many records a pool costs more than it saves (fork + result transfer, ~50 ms).
MIN_PARALLEL = 5000
CHUNK = 2000

_ITEMS: Sequence | None = None
_FN: Callable | None = None


def cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def workers_for(n: int, workers: int | None) -> int:
    """Processes to use for n items: `workers` (None = one per core), 1 when small."""
    if n < MIN_PARALLEL or not sys.platform.startswith("linux"):
        return 1
    return max(1, min(workers or cores(), -(-n // CHUNK)))


def _run_chunk(bounds: tuple[int, int]) -> list:
    lo, hi = bounds
    return [_FN(item) for item in _ITEMS[lo:hi]]


def map_records(fn: Callable[[Any], Any], items: Sequence, workers: int | None = None) -> list:
    """[fn(item) for item in items], on `workers_for(len(items), workers)` processes, in
    order. `fn` must be a module-level function (or a functools.partial of one)."""
    n = workers_for(len(items), workers)
    if n == 1:
        return [fn(item) for item in items]
    global _ITEMS, _FN
    _ITEMS, _FN = items, fn
    try:
        with ProcessPoolExecutor(n, mp_context=mp.get_context("fork")) as pool:
            parts = pool.map(_run_chunk, [(lo, min(lo + CHUNK, len(items)))
                                          for lo in range(0, len(items), CHUNK)])
            return [r for part in parts for r in part]
    finally:
        _ITEMS = _FN = None
