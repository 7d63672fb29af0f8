"""`tuneline serve`: the ZenML dashboard, with "build dataset" and "retrain" forms, on this machine.

Up: the open-source local ZenML server (`zenml login --local`), a stack that is the active
stack plus a local deployer, and the two launcher pipelines deployed on it. Their Playground
in the dashboard is the form; a submitted form starts an ordinary run (tuneline_app/forms.py).
Down: the deployments stop, then the server; the store keeps every run.
"""

from __future__ import annotations

import os
from pathlib import Path

from tuneline.zenml_ext import serving

DEFAULT_PORT = 8237  # ZenML's own default for the local server


class ServeError(RuntimeError):
    pass


# What anyone who can reach a non-loopback address gets: the local server has one user and
# no login, so its API serves every artifact and accepts stack changes.
EXPOSED = ("every artifact in the store (your documents, datasets, models and reports), every "
           "run and its logs, and write access to stacks and components, with no login")


def is_loopback(ip: str) -> bool:
    import ipaddress

    if ip == "localhost":
        return True
    try:
        return ipaddress.ip_address(ip).is_loopback
    except ValueError as e:
        raise ServeError(f"--ip {ip!r} is not an IP address") from e


def check_address(ip: str, expose: bool) -> str | None:
    """Refuse a non-loopback address unless the user asked for it; when they did, the warning
    to print (what is exposed, and what to use instead)."""
    if is_loopback(ip):
        return None
    if not expose:
        raise ServeError(f"refusing to serve on {ip}: ZenML's local server has one user and no "
                         f"login, so anyone who can reach {ip} would get {EXPOSED}. Keep the "
                         "default 127.0.0.1 (and use an SSH tunnel), or pass --expose if this "
                         "network is yours alone; for a team, deploy a ZenML server with "
                         "authentication (https://docs.zenml.io/deploying-zenml)")
    return (f"WARNING: serving on {ip} without authentication: anyone who can reach it gets "
            f"{EXPOSED}. For a team, deploy a ZenML server with authentication "
            "(https://docs.zenml.io/deploying-zenml).")


def start_server(port: int, ip: str) -> tuple[str, object]:
    try:
        return serving.prepare(port, ip)
    except serving.ZenMLCommandError as e:
        raise ServeError(str(e)) from None


def up(port: int = DEFAULT_PORT, ip: str = "127.0.0.1", configs: Path | None = None,
       expose: bool = False) -> dict:
    warning = check_address(ip, expose)  # before anything starts
    if configs is not None and not any(Path(configs).glob("*.yaml")):
        raise ServeError(f"--configs {configs}: no .yaml run configs there")
    stack_name, stack_id = start_server(port, ip)
    return {"dashboard": f"http://{ip}:{port}", "stack": stack_name,
            "deployments": serving.deploy(launchers_for(configs), stack_id), "warning": warning}


def launchers_for(configs: Path | None) -> dict:
    """The dashboard's launcher pipelines with their config menus read from `configs` (None:
    the project's configs/). The menus are types in the pipelines' signatures, built when
    `tuneline_app.launchers` is imported, from the folder in CONFIGS_ENV; the deployment
    processes inherit the variable and import it themselves. So the variable is set here, and
    a module imported earlier in this process with another folder is built again."""
    import importlib

    from tuneline_app import forms

    if configs is None:
        os.environ.pop(forms.CONFIGS_ENV, None)
    else:
        os.environ[forms.CONFIGS_ENV] = str(Path(configs).resolve())
    from tuneline_app import launchers

    if launchers.CONFIG_DIR != launchers.config_dir():
        launchers = importlib.reload(launchers)
    return launchers.LAUNCHERS


def down(force: bool = False) -> list[str]:
    """Stop the deployments and the server. Runs started from the dashboard talk to this server,
    so refuse while any is running, unless forced (they then fail when they next report)."""
    from tuneline_app.forms import TAG
    from tuneline_app.launchers import LAUNCHERS

    if serving.local_server_url() is None:
        return []
    running = serving.running_runs(TAG)
    if running and not force:
        raise ServeError(f"runs started from the dashboard are still running: {', '.join(running)}; "
                         "wait for them, or use --force")
    stopped = serving.deprovision(LAUNCHERS)
    try:
        serving.stop_server()
    except serving.ZenMLCommandError as e:
        raise ServeError(str(e)) from None
    return stopped


def status() -> dict:
    from tuneline_app.forms import TAG
    from tuneline_app.launchers import LAUNCHERS

    url = serving.local_server_url()
    if url is None:
        return {"dashboard": None, "deployments": {}, "running": []}
    return {"dashboard": url, "deployments": serving.deployment_status(LAUNCHERS),
            "running": serving.running_runs(TAG)}
