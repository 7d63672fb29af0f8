"""Curation at scale: the multi-process rules and exact keys give the single-process results,
and the approximate embedding index finds the pairs exact tiles find."""

import os

import numpy as np
import pytest

from tuneline import parallel
from tuneline.curation import dedup, filters
from tuneline.params import DedupParams, FilterParams
from tuneline.records import Pair

JUNK = ["I'm sorry, but as an AI language model I cannot help with that.",
        "line one\nline one\nline one\nline one",
        "<div><p>Click <b>here</b> &nbsp; now</p></div>",
        "ok"]


def pairs(n: int) -> list[Pair]:
    rng = np.random.default_rng(1)
    words = "adapter rank matrix gradient learning rate optimizer batch token layer".split()
    out = []
    for i in range(n):
        answer = " ".join(rng.choice(words, 25)) + f" item {i}."
        if i % 17 == 0:
            answer = JUNK[i % len(JUNK)]
        if i % 23 == 0 and i:
            out.append(Pair(f"p{i}", "c", "s", out[i - 1].instruction.upper(), out[i - 1].answer))
            continue
        out.append(Pair(f"p{i}", "c", "s", f"What does step {i} of the recipe change?", answer))
    return out


_PIDS: list = []  # where the chunk recorder writes (set by the `processes` fixture)
_RUN_CHUNK = parallel._run_chunk


def _recorded_chunk(bounds):
    """parallel's chunk task, noting which process ran it (module level: the pool pickles it)."""
    with open(_PIDS[0], "a") as f:
        f.write(f"{os.getpid()}\n")
    return _RUN_CHUNK(bounds)


@pytest.fixture
def processes(tmp_path, monkeypatch):
    """The ids of the processes that ran chunks, read after the code under test ran."""
    path = tmp_path / "pids"
    _PIDS[:] = [path]
    monkeypatch.setattr(parallel, "_run_chunk", _recorded_chunk)
    yield lambda: set(path.read_text().split()) if path.exists() else set()
    _PIDS.clear()


def test_rules_in_worker_processes_drop_the_same_pairs_for_the_same_reasons_in_order(processes):
    items = pairs(3 * parallel.MIN_PARALLEL)
    assert parallel.workers_for(len(items), 2) == 2
    one = filters.apply_filters(items, FilterParams(workers=1))
    assert processes() == set()  # one worker: in this process, no pool
    many = filters.apply_filters(items, FilterParams(workers=2))
    ran = processes()
    # the work ran in the pool's child processes, not here (how the chunks spread over the two
    # children is the pool's business)
    assert ran and str(os.getpid()) not in ran and len(ran) <= 2
    assert one == many and len(one[1]) > 500
    assert [d.reason for d in many[1]][:4] == [d.reason for d in one[1]][:4]


def test_exact_keys_in_worker_processes_find_the_same_duplicates(processes):
    items = pairs(2 * parallel.MIN_PARALLEL)
    one = dedup.exact_dedup(items, workers=1)
    many = dedup.exact_dedup(items, workers=2)
    ran = processes()
    assert ran and str(os.getpid()) not in ran and len(ran) <= 2
    assert one == many and len(many[1]) == len(items) // 23


def clustered(n: int, dim: int = 64, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((n // 40, dim))
    x = centers[rng.integers(0, len(centers), n)] + 0.8 * rng.standard_normal((n, dim))
    dup = rng.choice(n, n // 10, replace=False)
    x[dup] = x[rng.integers(0, n, len(dup))] + 0.3 * rng.standard_normal((len(dup), dim))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x.astype(np.float32)


def test_the_approximate_index_finds_the_exact_pairs_and_no_others():
    emb = clustered(6000)
    exact_ij, exact_s = dedup.similar_pairs(emb, 0.8)
    ann_ij, ann_s = dedup.ann_similar_pairs(emb, 0.8, nprobe=16)
    exact, ann = set(map(tuple, exact_ij.tolist())), set(map(tuple, ann_ij.tolist()))
    assert len(exact) > 300
    assert ann <= exact  # distances inside a cell are exact: nothing below the threshold
    assert len(ann & exact) / len(exact) >= 0.99
    assert (ann_ij[:, 0] < ann_ij[:, 1]).all() and len(ann) == len(ann_ij)  # each pair once
    assert (ann_s >= 0.8 - 1e-6).all()


def test_embedding_dedup_switches_to_the_index_at_ann_min_records():
    items = [Pair(f"p{i}", "c", "s", f"question {i}", f"answer {i}") for i in range(3000)]
    emb = clustered(3000, seed=2)

    def encode(texts: list[str]) -> np.ndarray:  # the instructions', then the answers' vectors
        return emb[[int(t.split()[1]) for t in texts]]

    exact = dedup.embedding_dedup(items, encode, DedupParams(entity_check=False))
    approx = dedup.embedding_dedup(items, encode, DedupParams(entity_check=False, ann_min_records=1000))
    found, want = {d.record["pair_id"] for d in approx[1]}, {d.record["pair_id"] for d in exact[1]}
    assert len(want) > 100 and len(found & want) / len(want) >= 0.98 and found <= want


@pytest.mark.parametrize("n, workers, want", [(10, None, 1), (parallel.MIN_PARALLEL, 1, 1),
                                              (parallel.MIN_PARALLEL, 3, 3)])
def test_small_inputs_stay_in_this_process(n, workers, want):
    assert parallel.workers_for(n, workers) == want
