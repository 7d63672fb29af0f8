"""`tuneline run` as a user sees it, through the real command: `--set` overrides checked before
anything starts, a quiet terminal with the whole log on disk, a failed run that ends with its
step, its reason and where the log is; and `tuneline params`."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.pipelines.inputs import SAMPLE, write_config
from tuneline_app.cli import main
from tuneline_app.config_check import parameter_table, validate

ROOT = Path(__file__).parents[2]
TUNELINE = str(Path(sys.executable).with_name("tuneline"))


def tuneline(*args: str, env: dict | None = None, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run([TUNELINE, *args], cwd=ROOT, env={**os.environ, **(env or {})},
                          capture_output=True, text=True, timeout=timeout, check=False)


def test_a_missing_raw_folder_given_with_set_is_one_line_before_anything_runs():
    res = tuneline("run", "configs/dataset.yaml", "--set", "parameters.raw_dir=/nonexistent/docs")
    assert res.returncode == 2
    assert res.stderr.strip().splitlines() == [
        f"tuneline: configs/dataset.yaml: parameters.raw_dir: raw folder '/nonexistent/docs' does "
        f"not exist or is not a folder (relative paths start at {ROOT})"]
    assert "Initiating a new run" not in res.stdout


@pytest.mark.parametrize("override,says", [
    ("parameters.nope=1", "unknown key parameters.nope"),
    ("steps.filter_pairs.parameters.filtering.min_answer_words=many", "min_answer_words"),
    ("parameters.raw_dir", "expected KEY=VALUE"),
    ("steps.split_dataset.parameters.decontamination.benchmark_files=[/no/such.jsonl]",
     "'/no/such.jsonl' does not exist"),
])
def test_bad_overrides_are_refused_by_the_config_checker(override, says, capsys):
    assert main(["run", "configs/dataset.yaml", "--set", override]) == 2
    err = capsys.readouterr().err
    assert says in err and "logs/runs" not in err, err


def test_a_failed_run_ends_with_its_step_its_reason_and_the_full_log(tmp_path):
    cfg = write_config(tmp_path / "dataset.yaml", "dataset", raw_dir=str(SAMPLE))
    # the folder exists, but nothing in it has this extension: scan_raw fails the run
    res = tuneline("run", cfg, "--no-cache",
                   "--set", "parameters.ingest.extensions=[.nothing]",
                   env={"ZENML_CONFIG_PATH": str(tmp_path / "zenml"),
                        "ZENML_LOGGING_VERBOSITY": "INFO"})
    assert res.returncode == 1, res.stdout + res.stderr
    out = res.stdout
    assert re.search(r"^tuneline: dataset_pipeline run \S+ failed in \d+s$", out, re.M), out
    assert (f"failed step  scan_raw: raw folder '{SAMPLE}' holds no .nothing files to ingest"
            in out), out
    # quiet: progress and the summary on the terminal, everything in the log
    assert "Step scan_raw has started." in out and "Traceback" not in out + res.stderr
    assert len(out.splitlines()) < 20, out
    log = ROOT / re.search(r"full log\s+(\S+)", out).group(1)
    text = log.read_text()
    assert "Traceback" in text and "holds no .nothing files" in text and "failed step" in text


def test_every_key_tuneline_params_lists_is_accepted_by_the_config_checker(tmp_path, capsys):
    rows = parameter_table()
    assert len(rows) > 100
    by_pipeline = {"dataset": {}, "training": {}, "end_to_end": {}}
    steps_cfg: dict = {}
    for r in rows:
        key, value = r["key"], r["default"]
        if value in (None, "(required)"):
            continue
        node = by_pipeline[r["where"].split()[1]] if key.startswith("parameters.") else steps_cfg
        *parents, leaf = key.split(".")[(1 if key.startswith("parameters.") else 0):]
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    for name, params in by_pipeline.items():
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump({"extra": {"pipeline": name}, "parameters": params,
                                        **steps_cfg}))
        assert validate(path) == name
    assert main(["params", "judge_pairs"]) == 0
    text = capsys.readouterr().out
    assert "steps.judge_pairs.parameters.judging.min_score" in text and "2.5" in text
    assert main(["params", "no_such_step"]) == 2
