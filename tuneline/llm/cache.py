"""A persistent call cache (SQLite) in front of any LLM backend.

Each call is keyed by a hash of the backend, the model, the messages and every generation
parameter, plus its occurrence number among identical requests in one batch (three sampled
questions for the same chunk are three different calls). Results are written as soon as
each slice of calls finishes, so a run killed mid-generation (even with kill -9) pays on
re-run only for what it had not finished.
"""

from __future__ import annotations

import functools
import hashlib
import json
import sqlite3
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence


@dataclass
class CallCache:
    path: Path
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")  # readers don't block the writer
        self._db.execute("CREATE TABLE IF NOT EXISTS calls (key TEXT PRIMARY KEY, value TEXT)")

    def get_many(self, keys: list[str]) -> dict[str, Any]:
        found: dict[str, Any] = {}
        with self._lock:
            for start in range(0, len(keys), 500):
                part = keys[start:start + 500]
                rows = self._db.execute(
                    f"SELECT key, value FROM calls WHERE key IN ({','.join('?' * len(part))})", part)
                found.update({k: json.loads(v) for k, v in rows})
        return found

    def put_many(self, items: dict[str, Any]) -> None:
        with self._lock:
            self._db.executemany("INSERT OR REPLACE INTO calls VALUES (?, ?)",
                                 [(k, json.dumps(v)) for k, v in items.items()])

    def __len__(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM calls").fetchone()[0]


def call_keys(identity: dict, kind: str, chats: Sequence, params: dict) -> list[str]:
    """One key per request; identical requests in one batch get distinct occurrence numbers."""
    seen: dict[str, int] = {}
    keys = []
    for chat in chats:
        base = json.dumps({"id": identity, "kind": kind, "messages": chat, "params": params},
                          sort_keys=True, ensure_ascii=False)
        n = seen.get(base, 0)
        seen[base] = n + 1
        keys.append(hashlib.sha256(f"{base}#{n}".encode()).hexdigest())
    return keys


def cached_calls(cache, identity: dict, kind: str, chats: Sequence, params: dict,
                 run: Callable[[list[int]], Iterator[tuple[list[int], list]]], usage: dict) -> list:
    """One value per chat: stored ones from the cache, the rest from `run(missing indices)`,
    which yields (indices, values) groups as they finish; each group is stored at once."""
    keys = call_keys(identity, kind, chats, params)
    found = cache.get_many(keys) if cache is not None else {}
    out = [found.get(k) for k in keys]
    missing = [i for i, k in enumerate(keys) if k not in found]
    usage["cached_calls"] = usage.get("cached_calls", 0) + len(keys) - len(missing)
    usage["calls"] = usage.get("calls", 0) + len(missing)
    if missing:
        for idx, values in run(missing):
            for i, v in zip(idx, values):
                out[i] = v
            if cache is not None:
                cache.put_many({keys[i]: v for i, v in zip(idx, values)})
    return out


def open_cache(enabled: bool, shared=None):
    """The machine's call cache (TUNELINE_CALL_CACHE, else <tuneline cache>/llm-calls.sqlite),
    in front of the stack's `shared` folder (tuneline/llm/shared.py) when one is given."""
    if not enabled:
        return None
    import os

    from tuneline.models import cache_dir

    path = os.environ.get("TUNELINE_CALL_CACHE") or cache_dir() / "llm-calls.sqlite"
    local = _open(str(path))
    if shared is None:
        return local
    from tuneline.llm.shared import Tiered

    return Tiered(local, shared)


@functools.lru_cache(maxsize=4)
def _open(path: str) -> CallCache:
    return CallCache(Path(path))
