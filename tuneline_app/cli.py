"""`tuneline` command line: run pipelines, inspect the registry and lineage, schedule retraining."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path
from typing import NoReturn

from tuneline.train.formats import EXPORT_FORMATS
from tuneline_app.serve import DEFAULT_PORT as SERVE_PORT


def _run(args: argparse.Namespace) -> int:
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


def _params(args: argparse.Namespace) -> int:
    from tuneline_app.config_check import parameter_table

    rows = parameter_table(args.step)
    if not rows:
        print(f"tuneline: no step or pipeline named {args.step!r}", file=sys.stderr)
        return 2
    if args.json:
        _print(rows, True, str)
        return 0
    where = None
    for r in rows:
        if r["where"] != where:
            where = r["where"]
            print(f"\n{where}")
        default = str(r["default"])
        default = default if len(default) <= 24 else default[:21] + "..."
        print(f"  {r['key']:<56} {r['type']:<14} {default:<24} {r['description']}")
    return 0


def _llm_server(args: argparse.Namespace) -> int:
    from tuneline.llm import local_server

    print(f"tuneline: serving {local_server.MODEL_ALIAS} at http://127.0.0.1:{args.port}/v1 "
          "(Ctrl-C stops it)")
    return _exec(local_server.command(args.port))


def _serve_model(args: argparse.Namespace) -> int:
    from tuneline.llm import local_server
    from tuneline.zenml_ext import registry

    try:
        path, alias = _model_gguf(args.model, args.quant, registry)
    except LookupError as e:
        print(f"tuneline: {e}", file=sys.stderr)
        return 1
    print(f"tuneline: serving {path.name} as {alias!r} at http://{args.host}:{args.port}/v1 "
          "(OpenAI-compatible; Ctrl-C stops it)", flush=True)
    # the server replaces this process: stopping the command (Ctrl-C, kill, a supervisor's
    # SIGTERM) stops the server, never leaving it orphaned with the port and the model in memory
    return _exec(local_server.command(args.port, args.n_ctx, model=path, alias=alias,
                                      host=args.host, threads=args.threads))


def _exec(command: list[str]) -> NoReturn:
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(command[0], command)


def _model_gguf(spec: str | None, quant: str | None, registry) -> tuple[Path, str]:
    """The GGUF file of a model version's export that `serve-model` runs (gguf.pick decides)."""
    from tuneline.ship import gguf

    mv = registry.find_model_version(spec)
    export = registry.gguf_export(mv)
    chosen = gguf.pick(export[0] if export else {}, quant, f"{mv.model.name}:{mv.number}")
    return Path(export[1].load()) / chosen["file"], f"{mv.model.name}-{chosen['quant']}"


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


def _print(obj, as_json: bool, render) -> None:
    import json

    print(json.dumps(obj, indent=2, default=str) if as_json else render(obj))


def _models(args: argparse.Namespace) -> int:
    from tuneline.zenml_ext.registry import version_rows
    from tuneline_app.render import render_versions

    _print(version_rows(args.model), args.json, render_versions)
    return 0


def _dataset_export(args: argparse.Namespace) -> int:
    from tuneline.records import Pair, Preference, from_frame
    from tuneline.train import formats
    from tuneline.zenml_ext.lineage import dataset_artifacts

    try:
        art = dataset_artifacts(None if args.run == "latest" else args.run)
    except (LookupError, KeyError) as e:
        print(f"tuneline: {e}", file=sys.stderr)
        return 1
    splits = {"train": from_frame(art["train_pairs"].load(), Pair),
              "test": from_frame(art["test_pairs"].load(), Pair),
              "preferences": from_frame(art["train_preferences"].load(), Preference)}
    written = formats.write_export(args.format, splits, args.out)
    for split, w in written.items():
        print(f"tuneline: {w['rows']:>5} {split:<12} {w['path']}")
    return 0


def _lineage(args: argparse.Namespace) -> int:
    from tuneline.zenml_ext.lineage import model_lineage
    from tuneline_app.render import render_lineage

    try:
        lineage = model_lineage(args.model)
    except LookupError as e:
        print(f"tuneline: {e}", file=sys.stderr)
        return 1
    _print(lineage, args.json, render_lineage)
    return 0


def _schedule(args: argparse.Namespace) -> int:
    from tuneline import schedule as sched

    try:
        if args.action == "add":
            return _schedule_add(args, sched)
        if args.action == "list":
            entries = sched.list_entries(sched.read_crontab()) if shutil.which("crontab") else []
            from tuneline.zenml_ext import schedules

            entries += schedules.list_schedules()
            _print(entries, args.json, lambda es: "\n".join(
                f"{e['name']:<24} {e['via']:<6} {e['cron']:<16} {e['config']}" for e in es)
                or "no schedules")
            return 0
        # remove
        text = sched.read_crontab() if shutil.which("crontab") else ""
        if any(e["name"] == args.name for e in sched.list_entries(text)):
            sched.write_crontab(sched.remove_entry(text, args.name))
        else:
            from tuneline.zenml_ext import schedules

            if not schedules.delete_schedule(args.name):
                raise sched.ScheduleError(f"no schedule named {args.name!r} in the crontab or "
                                          "in ZenML")
        print(f"tuneline: removed schedule {args.name}")
        return 0
    except sched.ScheduleError as e:
        print(f"tuneline: {e}", file=sys.stderr)
        return 2


def _schedule_add(args: argparse.Namespace, sched) -> int:
    from tuneline.zenml_ext import schedules
    from tuneline_app.config_check import ConfigError, validate

    try:
        pipeline = validate(args.config)
    except (ConfigError, FileNotFoundError) as e:
        raise sched.ScheduleError(str(e)) from None
    cron = sched.check_cron(args.cron)
    name = args.name or Path(args.config).stem
    orchestrator, flavor, schedulable = schedules.active_orchestrator()
    via = args.via
    if via == "auto":
        via = "zenml" if schedulable else "cron"
    if via == "zenml":
        if not schedulable:
            raise sched.ScheduleError(
                f"orchestrator {orchestrator!r} ({flavor}) has no schedules; "
                "use --via cron on this machine or a stack with a scheduling orchestrator")
        from tuneline_pipelines import PIPELINES

        schedules.schedule_pipeline(PIPELINES[pipeline], args.config, name, cron)
        print(f"tuneline: ZenML schedule {name!r} ({cron}) on orchestrator {orchestrator!r}")
        return 0
    config, command = sched.default_job(args.config, name, args.env_file, args.log_dir)
    sched.write_crontab(sched.add_entry(sched.read_crontab(), name, cron, command, config))
    print(f"tuneline: crontab entry {name!r} ({cron}): {command}")
    return 0


def _stack(args: argparse.Namespace) -> int:
    from tuneline.zenml_ext import stacks

    try:
        if args.action == "check":
            for path in args.recipes:
                recipe = stacks.check(path)
                unchecked = recipe.get("_unchecked")
                extra = f" (unchecked: {'; '.join(unchecked)})" if unchecked else ""
                print(f"tuneline: {path}: stack {recipe['stack_name']!r} ok{extra}")
            return 0
        name = stacks.register(args.recipe, activate=args.activate)
        active = " and made it active" if args.activate else ""
        print(f"tuneline: registered stack {name!r}{active}")
        return 0
    except stacks.RecipeError as e:
        print(f"tuneline: {e}", file=sys.stderr)
        return 2


def _serve(args: argparse.Namespace) -> int:
    from tuneline_app import serve

    try:
        if args.action == "up":
            info = serve.up(port=args.port, ip=args.ip, configs=args.configs, expose=args.expose)
            if info["warning"]:
                print(f"tuneline: {info['warning']}", file=sys.stderr)
            print(f"tuneline: dashboard at {info['dashboard']} (stack {info['stack']})")
            for name, d in info["deployments"].items():
                print(f"tuneline: deployment {name}: {d['status']} at {d['url']} auth key "
                      f"{d['auth_key']} (the Playground sends it; a script sends the header "
                      "Authorization: Bearer KEY)")
            print("tuneline: open Deployments, pick one, fill in its Playground form and invoke "
                  "it; the run it starts appears under Runs. `tuneline serve down` stops all this.")
        elif args.action == "down":
            stopped = serve.down(force=args.force)
            print(f"tuneline: stopped {', '.join(stopped) or 'nothing'}; the local server is down"
                  if stopped else "tuneline: no local server is running")
        else:
            _print(serve.status(), args.json, lambda s: "\n".join(
                [f"dashboard: {s['dashboard'] or 'not running'}"]
                + [f"deployment {n}: {d['status']} at {d['url']}" for n, d in s["deployments"].items()]
                + [f"running (started from the dashboard): {r}" for r in s["running"]]))
        return 0
    except serve.ServeError as e:
        print(f"tuneline: {e}", file=sys.stderr)
        return 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tuneline", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the pipeline a config names (extra.pipeline)")
    run.add_argument("config", help="YAML run config, e.g. configs/quickstart.yaml")
    run.add_argument("--no-cache", action="store_true", help="execute every step again")
    run.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                     help="override a config key, e.g. --set parameters.raw_dir=~/docs "
                          "(repeatable; checked like the config; see `tuneline params`)")
    run.add_argument("--verbose", action="store_true",
                     help="print everything (default: progress only; all of it in logs/runs/)")
    run.set_defaults(func=_run)
    params = sub.add_parser("params", help="every parameter a config can set: key, type, "
                                           "default, description")
    params.add_argument("step", nargs="?", help="one step or pipeline (default: all)")
    params.add_argument("--json", action="store_true")
    params.set_defaults(func=_params)
    serve = sub.add_parser("llm-server", help="serve the bundled SmolLM2 as an OpenAI-compatible "
                                              "API (llama.cpp), for configs/quickstart-openai.yaml")
    serve.add_argument("--port", type=int, default=8080)
    serve.set_defaults(func=_llm_server)
    sm = sub.add_parser("serve-model", help="serve a model version's GGUF quant through "
                                            "llama.cpp's OpenAI-compatible server")
    sm.add_argument("model", nargs="?", metavar="MODEL[:VERSION|STAGE]",
                    help="default: the latest model's production version, else its latest")
    sm.add_argument("--quant", help="e.g. q4_k_m (default: the first that passed its checks)")
    sm.add_argument("--host", default="127.0.0.1")
    sm.add_argument("--port", type=int, default=8080)
    sm.add_argument("--n-ctx", type=int, default=4096, help="context length in tokens")
    sm.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    sm.set_defaults(func=_serve_model)
    models = sub.add_parser("models", help="model versions, stages, metrics, promotion decisions, "
                                           "GGUF quants")
    models.add_argument("model", nargs="?", help="one model's versions (default: all models)")
    models.add_argument("--json", action="store_true")
    models.set_defaults(func=_models)
    dataset = sub.add_parser("dataset", help="a curated dataset run's splits, out of tuneline")
    dsub = dataset.add_subparsers(dest="action", required=True)
    export = dsub.add_parser("export", help="write train/test pairs and preferences as "
                                            "alpaca, sharegpt, openai JSONL or parquet")
    export.add_argument("run", help="a dataset or end-to-end run (name or id), or `latest` "
                                    "(the latest completed one)")
    export.add_argument("--format", required=True, choices=EXPORT_FORMATS)
    export.add_argument("out", help="folder for the train, test and preferences files")
    export.set_defaults(func=_dataset_export)
    lineage = sub.add_parser("lineage", help="model version -> training run -> dataset -> curation "
                                             "steps and ledgers -> raw files")
    lineage.add_argument("model", nargs="?", metavar="MODEL[:VERSION|STAGE]",
                         help="default: the latest model, its production version (else latest)")
    lineage.add_argument("--json", action="store_true")
    lineage.set_defaults(func=_lineage)
    schedule = sub.add_parser("schedule", help="scheduled runs: crontab on this machine, or a "
                                               "ZenML Schedule on an orchestrator that has them")
    ssub = schedule.add_subparsers(dest="action", required=True)
    add = ssub.add_parser("add", help="run CONFIG on a cron schedule")
    add.add_argument("config")
    add.add_argument("--cron", required=True, help='e.g. "0 3 * * 1" (Mondays 03:00)')
    add.add_argument("--name", help="default: the config's file name without .yaml")
    add.add_argument("--via", choices=["auto", "cron", "zenml"], default="auto",
                     help="auto: a ZenML Schedule if the active orchestrator has them, else cron")
    add.add_argument("--env-file", help="KEY=VALUE file read when the job starts (for secrets: "
                                        "they are never written into the crontab)")
    add.add_argument("--log-dir", help="where the job appends its output (default: ./logs)")
    lst = ssub.add_parser("list")
    lst.add_argument("--json", action="store_true")
    rm = ssub.add_parser("remove")
    rm.add_argument("name")
    schedule.set_defaults(func=_schedule)
    srv = sub.add_parser("serve", help="the ZenML dashboard with 'build dataset' and 'retrain' "
                                       "forms: local server + deployments (up|down|status)")
    srv.add_argument("action", choices=["up", "down", "status"])
    srv.add_argument("--port", type=int, default=SERVE_PORT, help="dashboard port (up)")
    srv.add_argument("--ip", default="127.0.0.1", help="address the dashboard listens on (up); "
                                                       "other than loopback only with --expose")
    srv.add_argument("--expose", action="store_true",
                     help="allow a non-loopback --ip: the local server has no login, so "
                          "everyone on that network can read and change everything")
    srv.add_argument("--configs", type=Path, help="folder of run configs the forms offer "
                                                  "(up; default: the project's configs/)")
    srv.add_argument("--force", action="store_true",
                     help="down even while runs started from the dashboard are running")
    srv.add_argument("--json", action="store_true", help="status as JSON")
    srv.set_defaults(func=_serve)
    stack = sub.add_parser("stack", help="stack recipes in configs/stacks/: check or register")
    stsub = stack.add_subparsers(dest="action", required=True)
    chk = stsub.add_parser("check", help="validate recipes against ZenML's flavors")
    chk.add_argument("recipes", nargs="+")
    reg = stsub.add_parser("register", help="register a recipe's flavors, components and stack")
    reg.add_argument("recipe")
    reg.add_argument("--activate", action="store_true")
    stack.set_defaults(func=_stack)
    return parser


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("ZENML_ANALYTICS_OPT_IN", "false")
    # comet_ml starts its own error reporting to sentry.io when imported (transformers imports
    # it): off unless asked for; experiment tracking itself is unaffected
    os.environ.setdefault("COMET_ERROR_TRACKING_ENABLE", "false")
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
