"""What a step's cache key must cover: every tuneline module its code can run.

ZenML hashes a step's own source, not the helpers it calls, so a change in
`tuneline/curation/dedup.py` would leave `dedup_pairs` cached and stale. Listing the helpers by hand
goes out of date the day someone adds an import; this follows the imports instead, those at
module top and those inside functions (backends are imported where they are chosen), and
modules named in a string (a worker launched with `python -m tuneline.train.worker`, an
`importlib` name), by reading the source.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
from functools import cache
from types import ModuleType

ROOT = "tuneline"


def _is_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):  # `tuneline.params.DedupParams`: a name, not a module
        return False


@cache
def _imports(module: str) -> frozenset[str]:
    """The tuneline modules `module` imports anywhere in its source."""
    spec = importlib.util.find_spec(module)
    if spec is None or not (spec.origin or "").endswith(".py"):
        return frozenset()
    with open(spec.origin, encoding="utf-8") as f:
        tree = ast.parse(f.read(), spec.origin)
    package = module if spec.submodule_search_locations else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from . import x / from .common import y
                parts = package.split(".")
                base = ".".join(parts[:len(parts) - node.level + 1] + ([base] if base else []))
            names = [base] + [f"{base}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            # a module run by name, not imported: `python -m tuneline.train.worker` in a
            # subprocess, `importlib.import_module("tuneline....")`
            names = [node.value]
        else:
            continue
        found.update(n for n in names if (n == ROOT or n.startswith(ROOT + ".")) and _is_module(n))
    return frozenset(found)


def source_closure(*roots: str | ModuleType) -> list[str]:
    """`roots` and every tuneline module they import, transitively: sorted import paths, what
    `CachePolicy(source_dependencies=...)` takes. Each is imported here, which is cheap
    (tuneline modules import torch, transformers and unsloth inside the functions that need
    them) and needed: ZenML loads "tuneline.llm" as the attribute `llm` of `tuneline` (a
    module object would not do: ZenML names a package "tuneline.llm.__init__", which loads
    as a method)."""
    todo = [r if isinstance(r, str) else r.__name__ for r in roots]
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(_imports(name) - seen)
    for name in seen:
        importlib.import_module(name)
    return sorted(seen)
