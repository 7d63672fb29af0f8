"""Hugging Face datasets as sources: a `save_to_disk` folder, parquet/JSON/CSV files, or a Hub id.

A dataset enters the raw manifest like a file: its path is `hf:<path>[<split>]` and its
sha256 is over its rows (each as canonical JSON, in order), so an unchanged dataset keeps
the cache and lineage names the exact content, wherever it was loaded from.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from tuneline.params import DatasetSource

_BUILDERS = {".parquet": "parquet", ".json": "json", ".jsonl": "json", ".csv": "csv",
             ".arrow": "arrow"}


def label(src: DatasetSource) -> str:
    return f"hf:{src.path}[{src.split}]"


def load(src: DatasetSource):
    """The source's split as a `datasets.Dataset`. Raises ValueError that names the source."""
    import datasets

    where = label(src)
    path = Path(src.path).expanduser()
    try:
        if path.is_dir() and ((path / "state.json").exists() or (path / "dataset_dict.json").exists()):
            loaded = datasets.load_from_disk(str(path))
            if isinstance(loaded, datasets.DatasetDict):
                if src.split not in loaded:
                    raise ValueError(f"{where}: no split {src.split!r}; it has {sorted(loaded)}")
                loaded = loaded[src.split]
            return loaded
        suffix = path.suffix.lower()
        if suffix in _BUILDERS and (path.is_file() or any(path.parent.glob(path.name))):
            # a data file is one split of its own, which datasets names "train"
            return datasets.load_dataset(_BUILDERS[suffix], data_files=str(path), split="train")
        if path.exists():
            return datasets.load_dataset(str(path), src.name, split=src.split,
                                         revision=src.revision)
    except ValueError as e:
        if str(e).startswith(where):
            raise
        raise ValueError(f"{where}: {e}") from None
    except Exception as e:
        raise ValueError(f"{where}: could not load {str(path)!r}: {type(e).__name__}: {e}") from None
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on"):
        raise ValueError(f"{where}: not a local folder or file, and the Hub is off "
                         "(HF_HUB_OFFLINE=1): load it once where the Hub is reachable and "
                         "save_to_disk it, or point `path` at its files")
    try:
        return datasets.load_dataset(src.path, src.name, split=src.split, revision=src.revision)
    except Exception as e:
        raise ValueError(f"{where}: not a local folder or file, and loading it from the Hub "
                         f"failed: {type(e).__name__}: {e}") from None


def content_sha256(dataset) -> tuple[str, int]:
    """sha256 over the rows as canonical JSON lines, and the number of bytes hashed."""
    digest, size = hashlib.sha256(), 0
    for row in dataset:  # plain dicts, nested values as JSON has them
        line = (json.dumps(row, sort_keys=True, ensure_ascii=False, default=str) + "\n").encode()
        digest.update(line)
        size += len(line)
    return digest.hexdigest(), size
