"""Scheduled retraining on one machine: crontab entries that run `tuneline run CONFIG`.

A stack whose orchestrator schedules runs itself (Kubernetes, Airflow, Vertex, ...) gets a
ZenML Schedule instead (see cli.py); the local orchestrator has none, and on a single machine
cron is the scheduler that already exists. Each entry is two lines, a marker comment and the
job, so entries can be listed and removed without touching the rest of the user's crontab.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

MARK = "# tuneline-schedule:"
# What the job needs from the environment it was added from. Secrets are never copied into the
# crontab: they come from --env-file, read when the job starts.
CARRIED_ENV = ("ZENML_CONFIG_PATH", "TUNELINE_CACHE", "TUNELINE_CALL_CACHE", "HF_HOME",
               "HF_HUB_OFFLINE", "ZENML_ANALYTICS_OPT_IN", "TOKENIZERS_PARALLELISM",
               "COMET_PROJECT_NAME", "COMET_ERROR_TRACKING_ENABLE")
_FIELD = re.compile(r"^(\*|\d+(-\d+)?)(/\d+)?(,(\*|\d+(-\d+)?)(/\d+)?)*$")
_NAMES = re.compile(r"^[A-Za-z]{3}(-[A-Za-z]{3})?(,[A-Za-z]{3}(-[A-Za-z]{3})?)*$")
_NAME_OK = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class ScheduleError(ValueError):
    pass


def check_cron(expr: str) -> str:
    """Five fields (minute hour day month weekday) or an @-macro; raises with what is wrong."""
    expr = " ".join(expr.split())
    if expr in {"@hourly", "@daily", "@weekly", "@monthly", "@yearly", "@annually", "@midnight"}:
        return expr
    fields = expr.split(" ")
    if len(fields) != 5:
        raise ScheduleError(f"cron expression {expr!r} needs 5 fields (minute hour day month "
                            f"weekday), got {len(fields)}")
    for name, field in zip(("minute", "hour", "day", "month", "weekday"), fields):
        if not (_FIELD.match(field) or (name in ("month", "weekday") and _NAMES.match(field))):
            raise ScheduleError(f"cron expression {expr!r}: bad {name} field {field!r}")
    return expr


def job_command(config: Path, name: str, project_dir: Path, tuneline_bin: Path, log_dir: Path,
                env: dict[str, str], env_file: Path | None = None) -> str:
    """The shell line cron runs: from the project root (ZenML's source root), with the carried
    environment, the optional env file for secrets, output appended to a log file."""
    parts = [f"cd {shlex.quote(str(project_dir))}"]
    if env_file is not None:
        parts.append(f"set -a && . {shlex.quote(str(env_file))} && set +a")
    assigns = " ".join(f"{k}={shlex.quote(v)}" for k, v in sorted(env.items()))
    log = log_dir / f"schedule-{name}.log"
    parts.append(f"{assigns + ' ' if assigns else ''}{shlex.quote(str(tuneline_bin))} run "
                 f"{shlex.quote(str(config))} >> {shlex.quote(str(log))} 2>&1")
    return " && ".join(parts)


def to_crontab_field(command: str) -> str:
    # cron turns an unescaped % into a newline
    return command.replace("%", "\\%")


def from_crontab_field(command: str) -> str:
    return command.replace("\\%", "%")


def add_entry(text: str, name: str, cron: str, command: str, config: Path) -> str:
    if not _NAME_OK.match(name):
        raise ScheduleError(f"schedule name {name!r}: use letters, digits, '.', '_' or '-'")
    if any(e["name"] == name for e in list_entries(text)):
        raise ScheduleError(f"a schedule named {name!r} exists; remove it first or pick --name")
    added = datetime.now(UTC).isoformat(timespec="seconds")
    lines = text.rstrip("\n").splitlines() if text.strip() else []
    lines += [f"{MARK}{name} config={config} added={added}",
              f"{check_cron(cron)} {to_crontab_field(command)}"]
    return "\n".join(lines) + "\n"


def list_entries(text: str) -> list[dict]:
    lines, out = text.splitlines(), []
    for i, line in enumerate(lines):
        if line.startswith(MARK) and i + 1 < len(lines):
            head = line[len(MARK):].split()
            job = lines[i + 1]
            n = 1 if job.startswith("@") else 5
            fields = job.split(None, n)
            meta = dict(kv.split("=", 1) for kv in head[1:] if "=" in kv)
            out.append({"name": head[0], "cron": " ".join(fields[:n]),
                        "command": from_crontab_field(fields[n]), "config": meta.get("config"),
                        "added": meta.get("added"), "via": "cron"})
    return out


def remove_entry(text: str, name: str) -> str:
    lines, out, skip = text.splitlines(), [], False
    found = False
    for line in lines:
        if skip:
            skip = False
            continue
        if line.startswith(MARK) and line[len(MARK):].split()[0] == name:
            skip = found = True
            continue
        out.append(line)
    if not found:
        raise ScheduleError(f"no tuneline schedule named {name!r} in the crontab")
    return "\n".join(out) + ("\n" if out else "")


# --- the crontab itself -------------------------------------------------------------------

def _crontab() -> str:
    path = shutil.which("crontab")
    if path is None:
        raise ScheduleError("the `crontab` program is not installed (Debian/Ubuntu: apt-get "
                            "install cron); or use a stack whose orchestrator supports schedules")
    return path


def read_crontab() -> str:
    res = subprocess.run([_crontab(), "-l"], capture_output=True, text=True)
    if res.returncode != 0:
        if "no crontab" in res.stderr:
            return ""
        raise ScheduleError(f"crontab -l failed: {res.stderr.strip()}")
    return res.stdout


def write_crontab(text: str) -> None:
    res = subprocess.run([_crontab(), "-"], input=text, capture_output=True, text=True)
    if res.returncode != 0:
        raise ScheduleError(f"crontab rejected the new table: {res.stderr.strip()}")


def default_job(config: str, name: str, env_file: str | None, log_dir: str | None) -> tuple[Path, str]:
    """The job for `config` as this process would run it: absolute paths, this venv's tuneline."""
    cfg = Path(config).resolve()
    if not cfg.exists():
        raise ScheduleError(f"config {config} does not exist")
    project = Path.cwd().resolve()
    tuneline_bin = Path(sys.executable).parent / "tuneline"
    env = {k: os.environ[k] for k in CARRIED_ENV if os.environ.get(k)}
    envf = Path(env_file).resolve() if env_file else None
    if envf is not None and not envf.exists():
        raise ScheduleError(f"env file {env_file} does not exist")
    logs = Path(log_dir).resolve() if log_dir else project / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    return cfg, job_command(cfg, name, project, tuneline_bin, logs, env, envf)
