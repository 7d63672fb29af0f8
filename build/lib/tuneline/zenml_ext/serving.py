"""ZenML's side of `tuneline serve`: the local server, the stack it deploys on, deployments.

tuneline_app/serve.py decides what to serve and where; this module makes the ZenML calls.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SERVE_STACK = "tuneline-serve"
DEPLOYER = "tuneline-deployer"


class ZenMLCommandError(RuntimeError):
    pass


def _zenml(*args: str) -> None:
    env = {**os.environ, "ZENML_AUTO_OPEN_DASHBOARD": "false"}
    zenml_bin = Path(sys.executable).with_name("zenml")
    proc = subprocess.run([str(zenml_bin), *args], env=env, capture_output=True, text=True, check=False)
    if proc.returncode:
        raise ZenMLCommandError(f"`zenml {' '.join(args)}` failed:\n{proc.stdout}{proc.stderr}")


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


def stop_server() -> None:
    _zenml("logout", "--local")


def local_server_url() -> str | None:
    """The local server's address, or None when none is running."""
    from zenml.utils.server_utils import get_local_server

    server = get_local_server()
    return server.status.url if server is not None else None


def deploy(pipelines: dict, stack_id) -> dict:
    """Deploy each pipeline under its name on the stack, with a generated auth key: a
    deployment's /invoke starts runs, so only with its key (the Playground sends it)."""
    # Deploy on that stack without changing the user's active stack. The deployment processes
    # inherit the variable, and so do the runs they start: those run on the same stack.
    os.environ["ZENML_ACTIVE_STACK_ID"] = str(stack_id)
    out = {}
    for name, pipeline in pipelines.items():
        d = pipeline.with_options(settings={"deployer": {"generate_auth_key": True}}).deploy(
            deployment_name=name)
        out[name] = {"url": d.url, "status": d.status, "auth_key": d.auth_key}
    return out


def prepare(port: int, ip: str) -> tuple[str, object]:
    """Start the local server and find (or make) the stack to deploy on: (its name, its id)."""
    start_server(port, ip)
    from zenml.client import Client

    client = Client()
    skip_onboarding(client)
    stack = serve_stack(client)
    return stack.name, stack.id


def running_runs(tag: str) -> list[str]:
    from zenml.client import Client

    return [r.name for r in Client().list_pipeline_runs(tags=[tag], in_progress=True, size=100).items]


def deprovision(names) -> list[str]:
    """Stop the named deployments; the names of those that existed."""
    from zenml.client import Client

    client, stopped = Client(), []
    for name in names:
        try:
            client.deprovision_deployment(name)
            stopped.append(name)
        except KeyError:
            pass
    return stopped


def deployment_status(names) -> dict:
    from zenml.client import Client

    client, out = Client(), {}
    for name in names:
        try:
            d = client.get_deployment(name)
            out[name] = {"url": d.url, "status": d.status}
        except KeyError:
            pass
    return out
