import shlex
from pathlib import Path

import pytest

from tuneline import schedule as s

FOREIGN = "MAILTO=ops@example.com\n15 2 * * * /usr/local/bin/backup --all\n"


@pytest.mark.parametrize("expr", ["0 3 * * 1", "*/15 * * * *", "0 0 1,15 * *", "0 9-17 * JAN-MAR mon-fri",
                                  "@daily", "  0   3 * *  1 "])
def test_valid_cron_expressions(expr):
    assert s.check_cron(expr) == " ".join(expr.split())


@pytest.mark.parametrize("expr, says", [("0 3 * *", "needs 5 fields"), ("0 3 * * 1 2", "needs 5 fields"),
                                        ("61x * * * *", "bad minute"), ("0 3 * * funday", "bad weekday"),
                                        ("@sometimes", "needs 5 fields")])
def test_invalid_cron_expressions_say_what_is_wrong(expr, says):
    with pytest.raises(s.ScheduleError, match=says):
        s.check_cron(expr)


def test_add_list_remove_keeps_the_rest_of_the_crontab():
    cmd = "cd /p && /p/.venv/bin/tuneline run /p/configs/retrain.yaml >> /p/logs/x.log 2>&1"
    text = s.add_entry(FOREIGN, "weekly", "0 3 * * 1", cmd, Path("/p/configs/retrain.yaml"))
    text = s.add_entry(text, "nightly", "@daily", cmd.replace("retrain", "dataset"), Path("/p/d.yaml"))
    assert text.startswith(FOREIGN)
    entries = s.list_entries(text)
    assert [(e["name"], e["cron"], e["config"]) for e in entries] == [
        ("weekly", "0 3 * * 1", "/p/configs/retrain.yaml"), ("nightly", "@daily", "/p/d.yaml")]
    assert entries[0]["command"] == cmd
    with pytest.raises(s.ScheduleError, match="exists"):
        s.add_entry(text, "weekly", "0 4 * * 1", cmd, Path("/p/x.yaml"))
    assert s.remove_entry(s.remove_entry(text, "weekly"), "nightly") == FOREIGN
    with pytest.raises(s.ScheduleError, match="no tuneline schedule named 'gone'"):
        s.remove_entry(text, "gone")


def test_percent_signs_survive_crontab_escaping():
    cmd = "date +%Y-%m-%d >> /tmp/x"
    text = s.add_entry("", "p", "0 3 * * 1", cmd, Path("/c.yaml"))
    assert "+\\%Y-\\%m-\\%d" in text  # cron would turn a bare % into a newline
    assert s.list_entries(text)[0]["command"] == cmd


def test_bad_schedule_names_are_refused():
    with pytest.raises(s.ScheduleError, match="use letters"):
        s.add_entry("", "a b", "0 3 * * 1", "true", Path("/c.yaml"))


def test_job_command_quotes_paths_and_reads_secrets_from_the_env_file(tmp_path):
    odd = tmp_path / "my project"
    cmd = s.job_command(odd / "cfg's.yaml", "n", odd, odd / ".venv/bin/tuneline", odd / "logs",
                        {"ZENML_CONFIG_PATH": str(odd / "zen")}, env_file=odd / "secrets.env")
    assert cmd.startswith(f"cd {shlex.quote(str(odd))} && set -a && . ")
    assert f"ZENML_CONFIG_PATH={shlex.quote(str(odd / 'zen'))} " in cmd
    assert shlex.quote(str(odd / "cfg's.yaml")) in cmd and cmd.endswith("2>&1")


def test_default_job_refuses_missing_files(tmp_path):
    with pytest.raises(s.ScheduleError, match="does not exist"):
        s.default_job(str(tmp_path / "nope.yaml"), "n", None, str(tmp_path))
    cfg = tmp_path / "c.yaml"
    cfg.write_text("extra: {pipeline: dataset}\n")
    with pytest.raises(s.ScheduleError, match="env file"):
        s.default_job(str(cfg), "n", str(tmp_path / "missing.env"), str(tmp_path))


def test_zenml_schedules_need_an_orchestrator_that_has_them(capsys):
    from tuneline_app.cli import main

    root = Path(__file__).parents[1]
    assert main(["schedule", "add", str(root / "configs/dataset.yaml"), "--cron", "0 3 * * 1",
                 "--via", "zenml"]) == 2
    err = capsys.readouterr().err
    assert "has no schedules" in err and "--via cron" in err
    assert main(["schedule", "add", str(root / "configs/dataset.yaml"), "--cron", "0 3 * *"]) == 2
    assert "needs 5 fields" in capsys.readouterr().err
