"""Runs started from the dashboard: a form's values -> a run config -> a detached `tuneline run`.

The dashboard's deployment Playground calls a deployed pipeline over HTTP and waits for the
answer. A dataset build or a retrain takes minutes to hours, so the deployed pipeline only
*starts* the real run, as its own process, and answers with that run's name and address. The
real run is an ordinary `tuneline run` on the stack: cached steps, step operators and step logs
all behave as they do from the CLI (a deployment's own run has caching and step operators off).
"""

from __future__ import annotations

import copy
import subprocess
import sys
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import Field

from tuneline.params import (
    DPOParams,
    GenerateParams,
    JudgeParams,
    LoRAParams,
    SFTParams,
    SplitParams,
)
from tuneline.runconfig import ConfigError, pipeline_name, set_dotted

# Each form field, declared once: the parameter whose type, bounds and description it takes
# (None: a free string), and what it sets in the run config. A field left empty keeps the
# config's value. The launcher steps and pipelines name them in their signatures (ZenML maps
# a deployment's inputs to step parameters by name) and type them with `field_type`.
FIELDS: dict[str, tuple[tuple[type, str] | None, tuple[str, ...]]] = {
    "raw_dir": (None, ("parameters.raw_dir",)),
    "questions_per_chunk": ((GenerateParams, "questions_per_chunk"),
                            ("parameters.generation.questions_per_chunk",)),
    "judge_min_score": ((JudgeParams, "min_score"), ("parameters.judging.min_score",)),
    "test_fraction": ((SplitParams, "test_fraction"),
                      ("steps.split_dataset.parameters.split.test_fraction",)),
    "dataset_run": (None, ("parameters.dataset_run",)),
    "epochs": ((SFTParams, "epochs"), ("steps.sft.parameters.sft.epochs",)),
    "learning_rate": ((SFTParams, "learning_rate"), ("steps.sft.parameters.sft.learning_rate",)),
    "lora_r": ((LoRAParams, "r"), ("steps.sft.parameters.sft.lora.r", "steps.dpo.parameters.dpo.lora.r")),
    "dpo_beta": ((DPOParams, "beta"), ("steps.dpo.parameters.dpo.beta",)),
}


def field_type(name: str):
    """The form field's type: the parameter's own type, bounds and description, or empty
    (None: keep the config's value), so the dashboard checks a value before anything runs."""
    source, _ = FIELDS[name]
    if source is None:
        return str | None
    model, attr = source
    info = model.model_fields[attr]
    return Annotated[(info.annotation, *info.metadata, Field(description=info.description))] | None


# Which configs each dashboard action offers, by the pipeline they run (extra.pipeline).
ACTIONS = {"build_dataset": ("dataset",), "retrain": ("training", "end_to_end")}
CONFIGS_ENV = "TUNELINE_CONFIGS"  # the folder the forms offer configs from (serve up --configs)
TAG = "dashboard"  # on every run started this way, so `tuneline serve down` can find them


class LaunchError(ValueError):
    pass


def configs_for(action: str, config_dir: Path) -> list[str]:
    """Names (file stems) of the configs in `config_dir` that `action` can start, sorted."""
    names = []
    for path in sorted(config_dir.glob("*.yaml")):
        try:
            cfg = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError:
            continue  # a broken config is reported when someone runs it, not here
        if isinstance(cfg, dict) and pipeline_name(cfg) in ACTIONS[action]:
            names.append(path.stem)
    return names


def derive(cfg: dict[str, Any], values: dict[str, Any], run_name: str) -> dict[str, Any]:
    """`cfg` with the form's non-empty `values` applied, a fixed run name and the dashboard tag."""
    out = copy.deepcopy(cfg)
    for field, value in values.items():
        if field not in FIELDS:
            raise LaunchError(f"unknown field {field!r}; known: {sorted(FIELDS)}")
        if value is None or value == "":
            continue
        for dotted in FIELDS[field][1]:
            try:
                set_dotted(out, dotted, value)
            except ConfigError as e:
                raise LaunchError(str(e)) from None
    out["run_name"] = run_name
    tags = list(out.get("tags") or [])
    out["tags"] = tags if TAG in tags else [*tags, TAG]
    return out


def new_run_name(config: str, now: datetime | None = None) -> str:
    """Unique and known before the run exists, so the launcher can find the run it started."""
    now = now or datetime.now(UTC)
    return f"{config}-{now:%Y_%m_%d-%H_%M_%S}-{uuid.uuid4().hex[:6]}"


def write_config(cfg: dict[str, Any], launch_dir: Path, run_name: str) -> Path:
    """The exact config the run was started with, kept beside its log."""
    launch_dir.mkdir(parents=True, exist_ok=True)
    path = launch_dir / f"{run_name}.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def start(config_path: Path, project_dir: Path,
          no_cache: bool = False) -> tuple[subprocess.Popen, Path]:
    """Start `tuneline run` in its own session: it outlives the HTTP request, the deployment
    process and a restart of either. Output goes to a log file beside the config."""
    log_path = config_path.with_suffix(".log")
    cmd = [sys.executable, "-m", "tuneline_app.cli", "run", str(config_path)]
    if no_cache:
        cmd.append("--no-cache")
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(cmd, cwd=project_dir, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    # reap it when it ends, so a long-lived deployment process collects no zombies
    threading.Thread(target=proc.wait, daemon=True).start()
    return proc, log_path


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return ""
