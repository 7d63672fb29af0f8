"""`tuneline` command line: run a pipeline from a YAML run config."""

from __future__ import annotations

import argparse
import os
import sys


def _run(args: argparse.Namespace) -> int:
    from pipelines import PIPELINES
    from tuneline.zenml_ext.config import ConfigError, validate

    try:
        name = validate(args.config)
    except (ConfigError, FileNotFoundError) as e:
        print(f"tuneline: {e}", file=sys.stderr)
        return 2
    options = {"config_path": args.config}
    if args.no_cache:
        options["enable_cache"] = False
    run = PIPELINES[name].with_options(**options)()
    print(f"tuneline: {name} run {run.name}: {run.status.value}")
    return 0 if run.status.value == "completed" else 1


def _llm_server(args: argparse.Namespace) -> int:
    import subprocess

    from tuneline.llm import local_server

    print(f"tuneline: serving {local_server.MODEL_ALIAS} at http://127.0.0.1:{args.port}/v1 "
          "(Ctrl-C stops it)")
    return subprocess.call(local_server.command(args.port))


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("ZENML_ANALYTICS_OPT_IN", "false")
    parser = argparse.ArgumentParser(prog="tuneline", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the pipeline a config names (extra.pipeline)")
    run.add_argument("config", help="YAML run config, e.g. configs/quickstart.yaml")
    run.add_argument("--no-cache", action="store_true", help="execute every step again")
    run.set_defaults(func=_run)
    serve = sub.add_parser("llm-server", help="serve the bundled SmolLM2 as an OpenAI-compatible "
                                              "API (llama.cpp), for configs/quickstart-openai.yaml")
    serve.add_argument("--port", type=int, default=8080)
    serve.set_defaults(func=_llm_server)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
