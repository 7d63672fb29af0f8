"""`tuneline run CONFIG`: check the config (and its `--set` overrides) before anything runs, run
the pipeline it names with a quiet terminal (everything to a log file), and end with the run's
summary read back from the store, or the failed step and its reason."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def run(args: argparse.Namespace) -> int:
    """The command; its exit code (2: the config or an override is wrong, nothing ran)."""
    if args.verbose:
        code, summary = _run_and_summarise(args, None)
    else:
        from tuneline_app.console import quiet

        log = _log_path(Path(args.config).stem)
        with quiet(log):
            print(f"tuneline: everything this run prints goes to {log}; progress below")
            code, summary = _run_and_summarise(args, log)
        if summary:
            with open(log, "a") as f:
                f.write(summary + "\n")
    if summary:
        print(summary)
    return code



def _run_and_summarise(args: argparse.Namespace, log: Path | None) -> tuple[int, str | None]:
    """(exit code, the summary to print once the terminal is ours again)."""
    from tuneline.runconfig import apply_overrides, check_paths
    from tuneline_app.config_check import ConfigError, load, validate

    config = args.config
    try:
        cfg = load(config)
        if args.set:
            cfg = apply_overrides(cfg, args.set)
            config = _write_derived(cfg, config)
        name = validate(config)
        check_paths(cfg, args.config)
    except (ConfigError, FileNotFoundError) as e:
        # a derived config is an implementation detail: name the user's file and the overrides
        message = str(e).replace(config, f"{args.config} (with --set)") if config != args.config else str(e)
        print(f"tuneline: {message}", file=sys.stderr)
        return 2, None
    hub_problem = _hub_token_missing(config)
    if hub_problem:
        print(f"tuneline: {hub_problem}", file=sys.stderr)
        return 2, None
    run_id, error = _start_run(name, config, args.no_cache)
    if run_id is None:  # failed before the run existed (e.g. compiling the pipeline)
        print(f"tuneline: {name} did not start: {error}" + (f" (full log: {log})" if log else ""),
              file=sys.stderr)
        return 1, None
    from tuneline.zenml_ext.summary import run_summary
    from tuneline_app.render import render_summary

    info = run_summary(run_id)
    if info["status"] != "completed" and not info.get("failure") and error:
        info["failure"] = error
    return (0 if info["status"] == "completed" else 1), render_summary(info, str(log) if log else None)



def _start_run(name: str, config: str, no_cache: bool) -> tuple[object | None, str | None]:
    """Run the pipeline; (run id, error message). A failed step raises out of ZenML's local
    orchestrator: the run then exists, and its failed step says why."""
    from datetime import UTC, datetime

    from tuneline.zenml_ext.summary import latest_run_since
    from tuneline_pipelines import PIPELINES

    options = {"config_path": config}
    if no_cache:
        options["enable_cache"] = False
    started = datetime.now(UTC)
    try:
        return PIPELINES[name].with_options(**options)().id, None
    except Exception as e:  # noqa: BLE001  (any failure: summarised, the traceback is in the log)
        import traceback

        traceback.print_exc()  # into the log file when quiet
        return (latest_run_since(PIPELINES[name].name, started),
                f"{type(e).__name__}: {e}".splitlines()[0] if str(e) else type(e).__name__)



def _log_path(pipeline: str) -> Path:
    from datetime import UTC, datetime

    return Path("logs") / "runs" / f"{pipeline}-{datetime.now(UTC):%Y%m%d-%H%M%S}.log"



def _write_derived(cfg: dict, config: str) -> str:
    """The config with the `--set` overrides, kept beside the run logs (the exact config a run
    used is the one ZenML records)."""
    from datetime import UTC, datetime

    import yaml

    out = Path("logs") / "runs" / f"{Path(config).stem}-set-{datetime.now(UTC):%Y%m%d-%H%M%S%f}.yaml"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return str(out)



def _hub_token_missing(config: str) -> str | None:
    """A Hub push configured without its token would fail only after curation or training:
    say so now."""
    from tuneline.params import DatasetHubParams, HubParams
    from tuneline_app.config_check import load

    steps = load(config).get("steps") or {}
    for step, group, cls, keys in (("push_to_hub", "hub", HubParams, ("repo_id", "gguf_repo_id")),
                                   ("publish_dataset", "dataset_hub", DatasetHubParams, ("repo_id",))):
        given = (steps.get(step) or {}).get("parameters") or {}
        hub = cls(**given.get(group, {}))
        for key in keys:
            repo = getattr(hub, key)
            if repo and not os.environ.get(hub.token_env, "").strip():
                return (f"{config}: steps.{step}.parameters.{group}.{key} is {repo!r} but the "
                        f"environment variable {hub.token_env} is empty; export a Hugging Face "
                        "write token")
    return None
