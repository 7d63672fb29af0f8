"""Run configs as files: read one, say which pipeline it runs, apply `--set` overrides,
check the paths it names (no ZenML needed)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

DEFAULT_PIPELINE = "end_to_end"


class ConfigError(ValueError):
    pass


def load(path: str | Path) -> dict[str, Any]:
    with open(path) as f:
        cfg = yaml.safe_load(f) or {}
    if not isinstance(cfg, dict):
        raise ConfigError(f"{path}: a run config is a YAML mapping")
    return cfg


def pipeline_name(cfg: dict[str, Any]) -> str:
    return (cfg.get("extra") or {}).get("pipeline", DEFAULT_PIPELINE)


def set_dotted(cfg: dict[str, Any], dotted: str, value: Any) -> None:
    """`cfg["a"]["b"]["c"] = value` for "a.b.c", creating the mappings on the way."""
    node = cfg
    *parents, leaf = dotted.split(".")
    for key in parents:
        child = node.get(key)
        if child is None:
            child = node[key] = {}
        if not isinstance(child, dict):
            raise ConfigError(f"cannot set {dotted}: {key} is not a mapping in the config")
        node = child
    node[leaf] = value


def apply_overrides(cfg: dict[str, Any], sets: list[str]) -> dict[str, Any]:
    """`cfg` with each `KEY=VALUE` of `--set` applied; VALUE is read as YAML (numbers, true,
    [a, b]), and a leading ~ is the home folder. The result is checked like any config."""
    out = copy.deepcopy(cfg)
    for item in sets:
        key, eq, raw = item.partition("=")
        if not eq or not key.strip():
            raise ConfigError(f"--set {item!r}: expected KEY=VALUE, e.g. parameters.raw_dir=~/docs")
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError as e:
            raise ConfigError(f"--set {item!r}: the value is not valid YAML: {e}") from None
        if isinstance(value, str) and value.startswith("~"):
            value = str(Path(value).expanduser())
        set_dotted(out, key.strip(), value)
    return out


def check_paths(cfg: dict[str, Any], where: str | Path) -> None:
    """Paths the run will read must exist now, not 20 minutes in: the raw folder, a base model
    given as a path, and decontamination's benchmark files."""
    params = cfg.get("parameters") or {}
    raw_dir = params.get("raw_dir")
    if raw_dir is not None and not Path(str(raw_dir)).expanduser().is_dir():
        raise ConfigError(f"{where}: parameters.raw_dir: raw folder {str(raw_dir)!r} does not "
                          f"exist or is not a folder (relative paths start at {Path.cwd()})")
    base = params.get("base_model")
    if isinstance(base, str) and base.startswith((".", "/", "~")) and not Path(base).expanduser().exists():
        raise ConfigError(f"{where}: parameters.base_model: model path {base!r} does not exist")
    split = ((cfg.get("steps") or {}).get("split_dataset") or {}).get("parameters") or {}
    for f in (split.get("decontamination") or {}).get("benchmark_files") or []:
        if not Path(str(f)).expanduser().is_file():
            raise ConfigError(f"{where}: steps.split_dataset.parameters.decontamination."
                              f"benchmark_files: {str(f)!r} does not exist")
