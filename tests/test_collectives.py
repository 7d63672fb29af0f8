"""tuneline's collectives on two real gloo processes on CPU: a rank that fails in the local
part of a collective fails every rank within seconds instead of leaving them in the gather."""

import time
from datetime import timedelta

import pytest

WORLD = 2


def _rank(rank: int, init: str, results) -> None:
    import torch.distributed as dist

    from tuneline.train.collectives import RankFailed, on_every_rank

    # a hang would end at this timeout (not NCCL's 30 minutes): the test then sees the slow exit
    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=WORLD,
                            timeout=timedelta(seconds=60))
    start = time.monotonic()

    def probe(r):
        if r == 1:
            raise ValueError("probe broke on this rank")
        return r * 10

    try:
        assert on_every_rank(lambda: rank + 1) == [1, 2]  # the gather itself, in rank order
        on_every_rank(probe, rank)
        results.put((rank, "returned", time.monotonic() - start))
    except RankFailed as e:
        results.put((rank, str(e), time.monotonic() - start))
    finally:
        dist.destroy_process_group()


@pytest.mark.slow  # two processes in a gloo group
def test_a_failure_on_one_rank_raises_on_every_rank_within_seconds_naming_the_rank(tmp_path):
    import torch.multiprocessing as mp

    ctx = mp.get_context("spawn")
    results = ctx.Queue()
    init = f"file://{tmp_path / 'rendezvous'}"
    procs = [ctx.Process(target=_rank, args=(r, init, results)) for r in range(WORLD)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=50)
    alive = [p for p in procs if p.is_alive()]
    for p in alive:
        p.kill()
    assert not alive, "a rank was still waiting in the collective"
    got = sorted(results.get(timeout=5) for _ in range(WORLD))
    for rank, message, seconds in got:
        assert "probe failed on rank 1" in message and "ValueError: probe broke" in message, (rank, message)
        assert seconds < 10, (rank, seconds)


def test_outside_torchrun_a_failure_raises_on_the_one_process():
    from tuneline.train.collectives import RankFailed, on_every_rank

    assert on_every_rank(lambda: 3) == [3]
    with pytest.raises(RankFailed, match="failed on rank 0: KeyError"):
        on_every_rank(lambda: {}["x"])
