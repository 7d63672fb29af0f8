"""The call cache's second tier: a folder every machine of a stack can read, one file per call.

The local SQLite cache lives on one disk. On a stack whose steps run in fresh containers
(Kubernetes, SageMaker, Vertex) it starts empty every run, so one changed file out of a
thousand regenerated and re-judged all of them. This tier keeps the same entries (same keys:
model, messages, every generation parameter) under a folder of the stack's artifact store, or
a folder the config names, written through the artifact store's own filesystem (local, S3,
GCS, Azure): `ROOT/ab/abcdef....json`. Entries are immutable, content-addressed files, so
concurrent runs never conflict. The filesystem is passed in (ZenML's `fileio` in steps; plain
files here), so this module needs no ZenML.
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any


class LocalFiles:
    """The filesystem interface the store uses (ZenML's `fileio` has the same calls)."""

    @staticmethod
    def open(path: str, mode: str = "r"):
        return open(path, mode)

    @staticmethod
    def exists(path: str) -> bool:
        return os.path.exists(path)

    @staticmethod
    def makedirs(path: str) -> None:
        os.makedirs(path, exist_ok=True)

    @staticmethod
    def rename(src: str, dst: str, overwrite: bool = False) -> None:
        os.replace(src, dst)


@dataclass
class FolderStore:
    root: str
    fs: Any = LocalFiles
    # object stores answer one small request at a time: look many up side by side
    workers: int = 16

    def _path(self, key: str) -> str:
        return f"{self.root.rstrip('/')}/{key[:2]}/{key}.json"

    def _get(self, key: str) -> tuple[str, Any] | None:
        path = self._path(key)
        try:
            with self.fs.open(path, "r") as f:
                return key, json.load(f)["value"]
        except (FileNotFoundError, OSError, ValueError, KeyError):
            # missing, or a file cut short by a writer that died: a miss, computed again
            return None

    def get_many(self, keys: list[str]) -> dict[str, Any]:
        if not keys:
            return {}
        with ThreadPoolExecutor(min(self.workers, len(keys))) as pool:
            return dict(hit for hit in pool.map(self._get, keys) if hit is not None)

    def _put(self, item: tuple[str, Any]) -> None:
        key, value = item
        path = self._path(key)
        if self.fs.exists(path):  # content-addressed: the same key holds the same call's value
            return
        self.fs.makedirs(path.rsplit("/", 1)[0])
        tmp = f"{path}.{os.getpid()}.tmp"
        with self.fs.open(tmp, "w") as f:
            json.dump({"key": key, "value": value}, f)
        # a reader never sees half a file: written aside, then moved into place (object stores
        # write whole objects anyway)
        self.fs.rename(tmp, path, overwrite=True)

    def put_many(self, items: dict[str, Any]) -> None:
        if not items:
            return
        with ThreadPoolExecutor(min(self.workers, len(items))) as pool:
            list(pool.map(self._put, items.items()))


@dataclass
class Tiered:
    """The local cache in front of the shared folder: local hits first, shared hits copied to
    the local cache, new values written to both."""

    local: Any
    shared: FolderStore

    def get_many(self, keys: list[str]) -> dict[str, Any]:
        found = self.local.get_many(keys) if self.local is not None else {}
        missing = [k for k in keys if k not in found]
        if missing:
            remote = self.shared.get_many(missing)
            if remote and self.local is not None:
                self.local.put_many(remote)
            found.update(remote)
        return found

    def put_many(self, items: dict[str, Any]) -> None:
        if self.local is not None:
            self.local.put_many(items)
        self.shared.put_many(items)
