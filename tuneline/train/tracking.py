"""Comet experiment tracking for the trainers: online with COMET_API_KEY, offline otherwise.

Offline experiments are written as a zip archive (upload later with `comet upload FILE`); its
path goes into the training step's metadata. The API key is read by comet_ml from the
environment and never passes through tuneline.
"""

from __future__ import annotations

import importlib.util
import os

from tuneline import models


def comet_setup(run_name: str) -> tuple[str, dict]:
    """The Trainer's `report_to` value, and what to record about the experiment."""
    if importlib.util.find_spec("comet_ml") is None:
        return "none", {"comet": "comet_ml is not installed"}
    os.environ.setdefault("COMET_PROJECT_NAME", "tuneline")
    os.environ.setdefault("COMET_LOG_ASSETS", "FALSE")  # checkpoints stay out of the archive
    # comet_ml also records the working tree's uncommitted diff by default: local edits (and
    # whatever they contain) stay on this machine
    os.environ.setdefault("COMET_AUTO_LOG_GIT_PATCH", "false")
    if os.environ.get("COMET_API_KEY"):
        os.environ["COMET_START_ONLINE"] = "true"
        return "comet_ml", {"mode": "online", "project": os.environ["COMET_PROJECT_NAME"]}
    offline = models.cache_dir() / "comet"
    offline.mkdir(parents=True, exist_ok=True)
    # transformers' CometCallback calls comet_ml.start(online=None): these settings decide
    os.environ["COMET_START_ONLINE"] = "false"
    os.environ["COMET_OFFLINE_DIRECTORY"] = str(offline)
    return "comet_ml", {"mode": "offline", "offline_directory": str(offline),
                        "project": os.environ["COMET_PROJECT_NAME"]}


def comet_finish(info: dict) -> dict:
    """End the running experiment (an offline one is archived now, not at process exit)."""
    if info.get("mode") not in ("online", "offline"):
        return info
    import comet_ml

    experiment = comet_ml.get_running_experiment()
    if experiment is None:
        return {**info, "comet": "no experiment was started"}
    key = experiment.get_key()
    url = getattr(experiment, "url", None) if info["mode"] == "online" else None
    experiment.end()
    out = {**info, "experiment_key": key}
    if url:
        out["url"] = url
    if info["mode"] == "offline":
        archives = sorted((p for p in os.scandir(info["offline_directory"])
                           if p.name.endswith(".zip") and key in p.name), key=lambda p: p.name)
        out["archive"] = archives[-1].path if archives else None
    return out
