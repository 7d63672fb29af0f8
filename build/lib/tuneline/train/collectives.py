"""tuneline's own collectives across torchrun ranks, and the failure rule they keep.

A collective waits for every rank. A rank that raises before it joins leaves the others
waiting until the process group's timeout (30 minutes under NCCL), then dies with a message
that names the timeout, not the cause. So `on_every_rank` runs the local part on each rank,
catches its exception *there*, and always joins the gather; when any rank failed, every rank
raises `RankFailed` at once, naming the rank and its error.
"""

from __future__ import annotations

import traceback


class RankFailed(RuntimeError):
    """Raised on every rank when the local part of a collective failed on at least one."""


def rank() -> int:
    """This process's rank (0 outside torchrun)."""
    import torch.distributed as dist

    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def all_ranks(value) -> list:
    """`value` from every rank, in rank order (just [value] outside torchrun)."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        return [value]
    out = [None] * dist.get_world_size()
    dist.all_gather_object(out, value)
    return out


def on_every_rank(fn, *args, **kwargs) -> list:
    """`fn(*args, **kwargs)` on this rank, gathered from every rank in rank order. When it
    raised on any rank, every rank raises `RankFailed` (the first failed rank's error, with
    its traceback in the message) instead of some ranks waiting in the gather forever."""
    try:
        outcome = ("ok", fn(*args, **kwargs))
    except Exception as e:  # noqa: BLE001 - carried to every rank and raised there, not swallowed
        outcome = ("error", f"{type(e).__name__}: {e}\n{traceback.format_exc()}")
    gathered = all_ranks(outcome)
    failed = [(rank, detail) for rank, (kind, detail) in enumerate(gathered) if kind == "error"]
    if failed:
        rank, detail = failed[0]
        others = f" (and on rank(s) {', '.join(str(r) for r, _ in failed[1:])})" if failed[1:] else ""
        raise RankFailed(f"{getattr(fn, '__name__', fn)} failed on rank {rank}{others}: {detail}")
    return [value for _, value in gathered]
