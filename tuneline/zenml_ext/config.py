"""Run-config checks that ZenML leaves to run time: every key must name a real parameter.

ZenML validates `parameters:` late and ignores some misspellings; a typo in a 20-minute
run's config should fail in a second, naming the key and the file.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import typing
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError
from zenml.steps import BaseStep

from tuneline.runconfig import ConfigError, load, pipeline_name

__all__ = ["ConfigError", "load", "pipeline_name", "all_steps", "validate"]

def all_steps() -> dict[str, BaseStep]:
    """Every step defined in the `steps` package, by name."""
    import steps

    found = {}
    for info in pkgutil.iter_modules(steps.__path__):
        module = importlib.import_module(f"steps.{info.name}")
        found.update({v.name: v for v in vars(module).values() if isinstance(v, BaseStep)})
    return found


def _check_params(where: str, func, given: dict[str, Any], path) -> None:
    hints = typing.get_type_hints(func)  # resolves `from __future__` string annotations
    known = list(inspect.signature(func).parameters)
    for key, value in (given or {}).items():
        if key not in known:
            raise ConfigError(f"{path}: unknown key {where}.{key}; known: {sorted(known)}")
        try:
            TypeAdapter(hints[key]).validate_python(value)
        except ValidationError as e:
            raise ConfigError(f"{path}: {where}.{key}: {e}") from None


def validate(path: str | Path) -> str:
    """Check a run config; return the name of the pipeline it runs."""
    from pipelines import PIPELINES

    cfg = load(path)
    name = pipeline_name(cfg)
    if name not in PIPELINES:
        raise ConfigError(f"{path}: extra.pipeline {name!r} is not one of {sorted(PIPELINES)}")
    _check_params("parameters", PIPELINES[name].entrypoint, cfg.get("parameters"), path)
    known = all_steps()
    for step_name, step_cfg in (cfg.get("steps") or {}).items():
        if step_name not in known:
            raise ConfigError(f"{path}: unknown step steps.{step_name}; known: {sorted(known)}")
        _check_params(f"steps.{step_name}.parameters", known[step_name].entrypoint,
                      (step_cfg or {}).get("parameters"), path)
    return name
