"""Run-config checks that ZenML leaves to run time: every key must name a real parameter.

ZenML validates `parameters:` late and ignores some misspellings; a typo in a 20-minute
run's config should fail in a second, naming the key and the file.
"""

from __future__ import annotations

import inspect
import typing
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from tuneline.runconfig import ConfigError, load, pipeline_name
from tuneline_steps import all_steps

__all__ = ["ConfigError", "load", "pipeline_name", "all_steps", "validate"]

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
    from tuneline_pipelines import PIPELINES

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


def _params_model(annotation):
    """The Params group an annotation names (`X` or `X | None`, not `list[X]`), else None."""
    import types

    from tuneline.params import Params

    candidates = [annotation]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        candidates = list(typing.get_args(annotation))
    for candidate in candidates:
        if isinstance(candidate, type) and issubclass(candidate, Params):
            return candidate
    return None


def _type_name(annotation) -> str:
    if typing.get_origin(annotation) is typing.Literal:
        return " | ".join(map(str, typing.get_args(annotation)))
    return getattr(annotation, "__name__", None) or str(annotation).replace("typing.", "")


def _group_rows(where: str, prefix: str, group) -> list[dict]:
    rows = []
    for field, info in group.model_fields.items():
        nested = _params_model(info.annotation)
        if nested is not None:  # e.g. sft.lora: its own fields, one key each
            rows += _group_rows(where, f"{prefix}.{field}", nested)
            continue
        default = info.get_default(call_default_factory=True)
        rows.append({"where": where, "key": f"{prefix}.{field}", "type": _type_name(info.annotation),
                     "default": default, "description": info.description or ""})
    return rows


def _rows(where: str, prefix: str, func) -> list[dict]:
    hints = typing.get_type_hints(func)
    simple = (str, int, float, bool, type(None))
    rows = []
    for name, p in inspect.signature(func).parameters.items():
        hint = hints.get(name)
        group = _params_model(hint)
        if group is not None:
            rows += _group_rows(where, f"{prefix}.{name}", group)
        elif hint in simple or (typing.get_args(hint) and all(a in simple for a in typing.get_args(hint))):
            rows.append({"where": where, "key": f"{prefix}.{name}", "type": _type_name(hint),
                         "default": "(required)" if p.default is inspect.Parameter.empty else p.default,
                         "description": ""})
    return rows


def parameter_table(only: str | None = None) -> list[dict]:
    """Every key a run config can set, with its type, default and description: the pipelines'
    `parameters:` and each step's `steps.<name>.parameters:` (what `validate` accepts)."""
    from tuneline_pipelines import PIPELINES

    rows = []
    for name, pipe in PIPELINES.items():
        if only in (None, name, pipe.name):
            rows += _rows(f"pipeline {name} (extra.pipeline: {name})", "parameters", pipe.entrypoint)
    for name, step in sorted(all_steps().items()):
        if only in (None, name):
            rows += _rows(f"step {name}", f"steps.{name}.parameters", step.entrypoint)
    return rows
