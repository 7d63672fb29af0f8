"""`tuneline serve`: the ZenML dashboard, with "build dataset" and "retrain" forms, on this machine.

Up: the open-source local ZenML server (`zenml login --local`), a stack that is the active
stack plus a local deployer, and the two launcher pipelines deployed on it. Their Playground
in the dashboard is the form; a submitted form starts an ordinary run (tuneline_app/forms.py).
Down: the deployments stop, then the server; the store keeps every run.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SERVE_STACK = "tuneline-serve"
DEPLOYER = "tuneline-deployer"
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


def _zenml(*args: str) -> None:
    env = {**os.environ, "ZENML_AUTO_OPEN_DASHBOARD": "false"}
    zenml_bin = Path(sys.executable).with_name("zenml")
    proc = subprocess.run([str(zenml_bin), *args], env=env, capture_output=True, text=True, check=False)
    if proc.returncode:
        raise ServeError(f"`zenml {' '.join(args)}` failed:\n{proc.stdout}{proc.stderr}")


def start_server(port: int, ip: str) -> None:
    # The CLI, not an internal API: it writes the client config that later processes
    # (deployments, started runs) read to find the server.
    _zenml("login", "--local", "--port", str(port), "--ip-address", ip)


def skip_onboarding(client) -> None:
    """The dashboard opens on a sign-up survey until the user has answered it; a local,
    offline server has nobody to sign up, so mark it answered (once)."""
    user = client.active_user
    meta = dict(user.user_metadata or {})
    if user.email_opted_in is not None and meta.get("finished_onboarding_survey"):
        return
    from zenml.models import UserUpdate

    meta.update(finished_onboarding_survey=True, overview_tour_done=True)
    # /current-user, as the survey form does: /users/{id} drops email_opted_in (zenml 0.98)
    client.zen_store.put("/current-user", body=UserUpdate(
        name=user.name, email_opted_in=False, user_metadata=meta))


def serve_stack(client):
    """The active stack if it has a deployer; else `tuneline-serve`: its components plus a
    local deployer (kept in step with the active stack on every `up`)."""
    from zenml.enums import StackComponentType as T

    active = client.active_stack_model
    if T.DEPLOYER in active.components:
        return active
    try:
        client.get_stack_component(T.DEPLOYER, DEPLOYER)
    except KeyError:
        client.create_stack_component(DEPLOYER, flavor="local", component_type=T.DEPLOYER,
                                      configuration={})
    components = {t: c[0].id for t, c in active.components.items()}
    components[T.DEPLOYER] = client.get_stack_component(T.DEPLOYER, DEPLOYER).id
    try:
        client.get_stack(SERVE_STACK)
    except KeyError:
        return client.create_stack(SERVE_STACK, components=components)
    return client.update_stack(SERVE_STACK, component_updates={t: [i] for t, i in components.items()})


def up(port: int = DEFAULT_PORT, ip: str = "127.0.0.1", configs: Path | None = None,
       expose: bool = False) -> dict:
    from tuneline_app.forms import CONFIGS_ENV

    warning = check_address(ip, expose)

    if configs is not None:
        if not any(Path(configs).glob("*.yaml")):
            raise ServeError(f"--configs {configs}: no .yaml run configs there")
        os.environ[CONFIGS_ENV] = str(Path(configs).resolve())  # read by tuneline_app/launchers.py
    start_server(port, ip)
    from zenml.client import Client

    from tuneline_app.launchers import LAUNCHERS

    client = Client()
    skip_onboarding(client)
    stack = serve_stack(client)
    # Deploy on that stack without changing the user's active stack. The deployment processes
    # inherit the variable, and so do the runs they start: those run on the same stack.
    os.environ["ZENML_ACTIVE_STACK_ID"] = str(stack.id)
    deployments = {}
    for name, launcher in LAUNCHERS.items():
        # a deployment's /invoke starts runs: only with its key (the Playground sends it)
        d = launcher.with_options(settings={"deployer": {"generate_auth_key": True}}).deploy(
            deployment_name=name)
        deployments[name] = {"url": d.url, "status": d.status, "auth_key": d.auth_key}
    return {"dashboard": f"http://{ip}:{port}", "stack": stack.name, "deployments": deployments,
            "warning": warning}


def running_launches(client) -> list[str]:
    from tuneline_app.forms import TAG

    return [r.name for r in client.list_pipeline_runs(tags=[TAG], in_progress=True, size=100).items]


def down(force: bool = False) -> list[str]:
    """Stop the deployments and the server. Runs started from the dashboard talk to this server,
    so refuse while any is running, unless forced (they then fail when they next report)."""
    from zenml.client import Client
    from zenml.utils.server_utils import get_local_server

    from tuneline_app.launchers import LAUNCHERS

    if get_local_server() is None:
        return []
    client = Client()
    running = running_launches(client)
    if running and not force:
        raise ServeError(f"runs started from the dashboard are still running: {', '.join(running)}; "
                         "wait for them, or use --force")
    stopped = []
    for name in LAUNCHERS:
        try:
            client.deprovision_deployment(name)
            stopped.append(name)
        except KeyError:
            pass
    _zenml("logout", "--local")
    return stopped


def status() -> dict:
    from zenml.client import Client
    from zenml.utils.server_utils import get_local_server

    from tuneline_app.launchers import LAUNCHERS

    server = get_local_server()
    if server is None:
        return {"dashboard": None, "deployments": {}, "running": []}
    client = Client()
    deployments = {}
    for name in LAUNCHERS:
        try:
            d = client.get_deployment(name)
            deployments[name] = {"url": d.url, "status": d.status}
        except KeyError:
            pass
    return {"dashboard": server.status.url, "deployments": deployments,
            "running": running_launches(client)}
