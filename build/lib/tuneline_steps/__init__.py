"""ZenML steps: thin wrappers that call the core in `tuneline`, log metadata and return artifacts."""

from __future__ import annotations

import importlib
import pkgutil


def all_steps() -> dict:
    """Every step defined in this package, by name (what a run config's `steps:` may name)."""
    from zenml.steps import BaseStep

    found = {}
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        found.update({v.name: v for v in vars(module).values() if isinstance(v, BaseStep)})
    return found
