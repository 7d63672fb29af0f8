"""Run configs as files: read one, and say which pipeline it runs (no ZenML needed)."""

from __future__ import annotations

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
