"""ZenML's side of `tuneline schedule`: schedules on an orchestrator that runs them itself."""

from __future__ import annotations

from zenml.client import Client


def active_orchestrator() -> tuple[str, str, bool]:
    """(name, flavor, whether it runs schedules) of the active stack's orchestrator."""
    o = Client().active_stack.orchestrator
    return o.name, o.flavor, bool(o.config.is_schedulable)


def schedule_pipeline(pipeline, config: str, name: str, cron: str) -> None:
    """Register `pipeline` run with `config` as a ZenML Schedule on the active orchestrator."""
    from zenml.config.schedule import Schedule

    pipeline.with_options(config_path=config, schedule=Schedule(name=name, cron_expression=cron))()


def list_schedules() -> list[dict]:
    return [{"name": s.name, "cron": s.cron_expression or f"every {s.interval_second}",
             "config": None, "command": None, "via": "zenml"}
            for s in Client().list_schedules(size=1000).items]


def delete_schedule(name: str) -> bool:
    """False when ZenML has no schedule of that name."""
    try:
        Client().delete_schedule(name)
    except KeyError:
        return False
    return True
