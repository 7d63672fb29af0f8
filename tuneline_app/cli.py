"""`tuneline` command line: run pipelines, inspect the registry and lineage, schedule retraining."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path
from typing import NoReturn

from tuneline.train.formats import EXPORT_FORMATS
from tuneline_app.run import run as run_command
from tuneline_app.serve import DEFAULT_PORT as SERVE_PORT


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


def _lookup(find, as_json: bool, render) -> int:
    """Print what `find()` returns, or the reason it found nothing (exit code 1)."""
    try:
        found = find()
    except (LookupError, KeyError) as e:
        print(f"tuneline: {e}", file=sys.stderr)
        return 1
    _print(found, as_json, render)
    return 0


def _lineage(args: argparse.Namespace) -> int:
    from tuneline.zenml_ext.lineage import model_lineage
    from tuneline_app.render import render_lineage

    return _lookup(lambda: model_lineage(args.model), args.json, render_lineage)


def _trace(args: argparse.Namespace) -> int:
    from tuneline.zenml_ext import trace
    from tuneline_app.render import render_file_trace, render_trace

    if bool(args.query) == bool(args.file):
        print("tuneline: trace takes an example (its id or a piece of its text) or --file PATH",
              file=sys.stderr)
        return 2
    if args.file:
        return _lookup(lambda: trace.trace_file(args.file, args.run), args.json, render_file_trace)
    return _lookup(lambda: trace.trace_example(args.query, args.run), args.json, render_trace)


def _dataset_diff(args: argparse.Namespace) -> int:
    from tuneline.zenml_ext import trace
    from tuneline_app.render import render_diff

    return _lookup(lambda: trace.dataset_diff(args.a, args.b), args.json, render_diff)


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
    run.set_defaults(func=run_command)
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
    diff = dsub.add_parser("diff", help="pairs added, removed and moved between two dataset "
                           "runs, each with its cause")
    diff.add_argument("a", nargs="?", help="the earlier run (default: the run before B)")
    diff.add_argument("b", nargs="?", help="the later run (default: the latest dataset run)")
    diff.add_argument("--json", action="store_true")
    diff.set_defaults(func=_dataset_diff)
    trace = sub.add_parser("trace", help="an example's history: raw file, chunk, every stage's "
                           "verdict, split, datasets and model versions; or --file PATH")
    trace.add_argument("query", nargs="?", help="a pair id (or 6+ leading characters) or a piece "
                       "of its question or answer")
    trace.add_argument("--file", help="a raw file's path in the raw folder: its examples and the "
                       "model versions trained on them")
    trace.add_argument("--run", help="a dataset or end-to-end run (default: the newest that has it)")
    trace.add_argument("--json", action="store_true")
    trace.set_defaults(func=_trace)
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
