"""The dashboard's "build dataset", "retrain" and "trace" forms: the steps and pipelines
`tuneline serve` deploys. The first two start a real run and answer at once (they do not wait
for it); "trace" answers with an example's (or a raw file's) history, as `tuneline trace` does.

A deployment substitutes the form's values into step parameters of the same name, so each
pipeline's signature repeats its step's names; a field's type, bounds, description and what it
sets in the run config are declared once, in `forms.FIELDS`.

Imported only by `tuneline serve` (and the deployments it starts): the config menus below are
read from the config folder at import, when the deployment's form is built
(`serve.launchers_for` builds them again for another folder).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Annotated, Literal

from zenml import log_metadata, pipeline, step
from zenml.client import Client
from zenml.metadata.metadata_types import Uri
from zenml.types import HTMLString
from zenml.utils import dashboard_utils, source_utils

from tuneline_app import forms as launch


def config_dir() -> Path:
    """Where the form's configs come from: the project's configs/, or the folder given to
    `tuneline serve up --configs` (passed down to the deployments in this variable)."""
    return Path(os.environ.get(launch.CONFIGS_ENV) or Path(__file__).resolve().parents[1] / "configs")


CONFIG_DIR = config_dir()
# The form's config menu, read when the deployment is made (`tuneline serve up` redeploys, so a
# new config shows up after the next `up`).
_DATASET = launch.configs_for("build_dataset", CONFIG_DIR)
_RETRAIN = launch.configs_for("retrain", CONFIG_DIR)
DatasetConfig = Literal[tuple(_DATASET)] if _DATASET else str
RetrainConfig = Literal[tuple(_RETRAIN)] if _RETRAIN else str
DATASET_DEFAULT = "dataset" if "dataset" in _DATASET or not _DATASET else _DATASET[0]
RETRAIN_DEFAULT = "training" if "training" in _RETRAIN or not _RETRAIN else _RETRAIN[0]

QuestionsPerChunk = launch.field_type("questions_per_chunk")
JudgeMinScore = launch.field_type("judge_min_score")
TestFraction = launch.field_type("test_fraction")
Epochs = launch.field_type("epochs")
LearningRate = launch.field_type("learning_rate")
LoraRank = launch.field_type("lora_r")
DpoBeta = launch.field_type("dpo_beta")
START_TIMEOUT_S = 180  # imports and pipeline compilation before the run exists (~15 s on 2 cores)


def _start(action: str, config: str, no_cache: bool, values: dict) -> dict:
    from tuneline_app.config_check import ConfigError, load, validate

    root = Path(source_utils.get_source_root())
    base = CONFIG_DIR / f"{config}.yaml"
    if config not in launch.configs_for(action, CONFIG_DIR):
        raise launch.LaunchError(f"{base} is not a config that {action} can run")
    name = launch.new_run_name(config)
    cfg = launch.derive(load(base), values, name)
    raw_dir = (cfg.get("parameters") or {}).get("raw_dir")
    if raw_dir and not (root / raw_dir).is_dir():  # an absolute raw_dir replaces root
        raise launch.LaunchError(f"raw_dir {raw_dir!r} is not a folder (relative paths start at {root})")
    path = launch.write_config(cfg, root / "logs" / "launches", name)
    try:
        validate(path)  # a bad value fails here, in the dashboard's answer, before any process
    except ConfigError as e:
        path.unlink()
        raise launch.LaunchError(str(e).replace(str(path), f"{base} with the form's values")) from None
    proc, log = launch.start(path, root, no_cache=no_cache)
    client = Client()
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        runs = client.list_pipeline_runs(name=name, hydrate=True)
        if runs.items:
            run = runs.items[0]
            url = dashboard_utils.get_run_url(run)
            # the launcher run's page links to the run it started
            log_metadata(metadata={"started_run": name, "started_run_url": Uri(url or "")})
            return {"run_name": name, "run_id": str(run.id), "status": run.status.value,
                    "dashboard_url": url, "config": str(path),
                    "log": str(log), "pid": proc.pid}
        if proc.returncode is not None:  # set by the reaper thread (launch.start)
            raise launch.LaunchError(f"`tuneline run {path}` exited with code {proc.returncode} "
                                     f"before the run started:\n{launch.tail(log)}")
        time.sleep(1)
    return {"run_name": name, "run_id": None, "status": "starting", "config": str(path),
            "log": str(log), "pid": proc.pid}


@step(enable_cache=False)
def start_dataset_build(
    config: DatasetConfig = DATASET_DEFAULT, raw_dir: str | None = None,
    questions_per_chunk: QuestionsPerChunk = None, judge_min_score: JudgeMinScore = None,
    test_fraction: TestFraction = None, no_cache: bool = False,
) -> Annotated[dict, "started_run"]:
    """Start a dataset build as its own run and answer with its name and dashboard address."""
    return _start("build_dataset", config, no_cache, {
        "raw_dir": raw_dir, "questions_per_chunk": questions_per_chunk,
        "judge_min_score": judge_min_score, "test_fraction": test_fraction})


@step(enable_cache=False)
def start_retrain(
    config: RetrainConfig = RETRAIN_DEFAULT, dataset_run: str | None = None,
    epochs: Epochs = None, learning_rate: LearningRate = None, lora_r: LoraRank = None,
    dpo_beta: DpoBeta = None, no_cache: bool = False,
) -> Annotated[dict, "started_run"]:
    """Start a training run as its own run and answer with its name and dashboard address."""
    return _start("retrain", config, no_cache, {
        "dataset_run": dataset_run, "epochs": epochs, "learning_rate": learning_rate,
        "lora_r": lora_r, "dpo_beta": dpo_beta})


@pipeline(enable_cache=False)
def build_dataset(
    config: DatasetConfig = DATASET_DEFAULT, raw_dir: str | None = None,
    questions_per_chunk: QuestionsPerChunk = None, judge_min_score: JudgeMinScore = None,
    test_fraction: TestFraction = None, no_cache: bool = False,
) -> dict:
    """Build dataset: start a dataset run from a config in configs/, with optional overrides."""
    return start_dataset_build(config=config, raw_dir=raw_dir,
                               questions_per_chunk=questions_per_chunk,
                               judge_min_score=judge_min_score, test_fraction=test_fraction,
                               no_cache=no_cache)


@pipeline(enable_cache=False)
def retrain(
    config: RetrainConfig = RETRAIN_DEFAULT, dataset_run: str | None = None,
    epochs: Epochs = None, learning_rate: LearningRate = None, lora_r: LoraRank = None,
    dpo_beta: DpoBeta = None, no_cache: bool = False,
) -> dict:
    """Retrain: start a training run from a config in configs/, with optional overrides."""
    return start_retrain(config=config, dataset_run=dataset_run, epochs=epochs,
                         learning_rate=learning_rate, lora_r=lora_r, dpo_beta=dpo_beta,
                         no_cache=no_cache)


@step(enable_cache=False)  # reads the store as it is now
def trace_lookup(
    query: str | None = None, file: str | None = None, run: str | None = None,
) -> tuple[Annotated[dict, "trace"], Annotated[HTMLString, "trace_view"]]:
    """An example's history (its id or a piece of its text) or a raw file's examples."""
    import html

    from tuneline.zenml_ext import trace
    from tuneline_app.render import render_file_trace, render_trace

    if bool(query) == bool(file):
        raise launch.LaunchError("give `query` (a pair id or a piece of its text) or `file` "
                                 "(a path in the raw folder), not both")
    got = trace.trace_file(file, run) if file else trace.trace_example(query, run)
    text = render_file_trace(got) if file else render_trace(got)
    # the same text as `tuneline trace`, on the step's page in the dashboard
    return got, HTMLString(f"<pre style='white-space:pre-wrap'>{html.escape(text)}</pre>")


@pipeline(enable_cache=False)
def trace_example(query: str | None = None, file: str | None = None,
                  run: str | None = None) -> dict:
    """Trace: an example's raw file, chunk, every stage's verdict, split and model versions."""
    got, _ = trace_lookup(query=query, file=file, run=run)
    return got


LAUNCHERS = {"tuneline-build-dataset": build_dataset, "tuneline-retrain": retrain,
             "tuneline-trace": trace_example}
