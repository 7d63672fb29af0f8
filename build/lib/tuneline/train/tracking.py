"""Comet experiment tracking for the trainers: online with COMET_API_KEY and a server that
answers, offline otherwise (the reason is in the metadata when a key was set).

Offline experiments are written as a zip archive (upload later with `comet upload FILE`); its
path goes into the training step's metadata. The API key is read by comet_ml from the
environment and never passes through tuneline.
"""

from __future__ import annotations

import importlib.util
import logging
import os

from tuneline import models

log = logging.getLogger(__name__)


def comet_setup(run_name: str) -> tuple[str, dict]:
    """The Trainer's `report_to` value, and what to record about the experiment."""
    if importlib.util.find_spec("comet_ml") is None:
        return "none", {"comet": "comet_ml is not installed"}
    os.environ.setdefault("COMET_PROJECT_NAME", "tuneline")
    os.environ.setdefault("COMET_LOG_ASSETS", "FALSE")  # checkpoints stay out of the archive
    # comet_ml also records the working tree's uncommitted diff by default: local edits (and
    # whatever they contain) stay on this machine
    os.environ.setdefault("COMET_AUTO_LOG_GIT_PATCH", "false")
    unreachable = None
    if os.environ.get("COMET_API_KEY"):
        unreachable = comet_unreachable()
        if unreachable is None:
            os.environ["COMET_START_ONLINE"] = "true"
            return "comet_ml", {"mode": "online", "project": os.environ["COMET_PROJECT_NAME"]}
        # comet_ml would retry for ~30 s, then train on with "Your experiment will not be
        # logged": the run's metrics would be lost while its metadata said "online"
        log.warning("Comet server not reachable (%s): tracking this run offline; upload the "
                    "archive named in the step metadata with `comet upload`", unreachable)
    offline = models.cache_dir() / "comet"
    offline.mkdir(parents=True, exist_ok=True)
    # transformers' CometCallback calls comet_ml.start(online=None): these settings decide
    os.environ["COMET_START_ONLINE"] = "false"
    os.environ["COMET_OFFLINE_DIRECTORY"] = str(offline)
    info = {"mode": "offline", "offline_directory": str(offline),
            "project": os.environ["COMET_PROJECT_NAME"]}
    if unreachable:
        info["online_unreachable"] = unreachable
    return "comet_ml", info


def comet_unreachable(timeout_s: float = 5.0) -> str | None:
    """None when the Comet server (comet_ml's configured backend) answers HTTP at all, else
    why not: no name resolution, a refused connection, a timeout."""
    import urllib.error
    import urllib.request

    from comet_ml.config import get_backend_address

    url = get_backend_address().rstrip("/") + "/isAlive/ver"
    try:
        urllib.request.urlopen(url, timeout=timeout_s).close()
    except urllib.error.HTTPError:
        return None  # it answered
    except (OSError, ValueError) as e:  # URLError, timeouts, refused, a malformed override
        return f"{url}: {getattr(e, 'reason', e)}"
    return None


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
