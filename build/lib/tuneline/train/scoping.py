"""A change to another library's module, in effect only while a trainer's own calls run.

`during_calls(trainer, patch)` enters `patch()` around the trainer's entry points (its
instance's methods, not the class's): training, a loss, a reference forward, an evaluation.
Outside them the library is as it was, so another trainer in the same process, or code that
never trains, sees the library's own functions. `rebound` is such a patch: it rebinds names
in modules and puts the originals back; nested entries (train -> compute_loss) apply it once.
"""

from __future__ import annotations

import contextlib
import functools
import threading

ENTRY_POINTS = ("train", "compute_loss", "compute_ref_log_probs", "prediction_step", "evaluate")


def during_calls(trainer, patch) -> None:
    """Wrap each of `trainer`'s entry points in `with patch():`."""
    for name in ENTRY_POINTS:
        method = getattr(trainer, name, None)
        if method is None:
            continue

        @functools.wraps(method)
        def wrapped(*args, _method=method, **kwargs):
            with patch():
                return _method(*args, **kwargs)

        setattr(trainer, name, wrapped)


def rebound(targets):
    """A patch for `during_calls`: `targets()` -> [(module, name, replacement)], set on entry
    and put back on exit; an entry inside another of the same patch changes nothing."""
    state = {"depth": 0, "saved": []}
    lock = threading.Lock()

    @contextlib.contextmanager
    def patch():
        with lock:
            if state["depth"] == 0:
                chosen = targets()
                state["saved"] = [(m, n, m.__dict__.get(n)) for m, n, _ in chosen]
                for module, name, value in chosen:
                    setattr(module, name, value)
            state["depth"] += 1
        try:
            yield
        finally:
            with lock:
                state["depth"] -= 1
                if state["depth"] == 0:
                    for module, name, value in state["saved"]:
                        setattr(module, name, value)
                    state["saved"] = []

    return patch
