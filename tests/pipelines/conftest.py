"""One scheduled history of the end-to-end pipeline that the end-to-end, operations and caching
tests all read, instead of each module starting runs of its own (the budget of `make test`).

The schedule is installed with `tuneline schedule add` in the real crontab when the `crontab`
program exists (CI installs cron; the user's own entries are restored afterwards), and its job
line is run the way cron runs it: /bin/sh -c with cron's bare environment. The history:

1. the mixed folder (Markdown, text, JSONL documents, a PDF with an outline, an HTML page in
   a site's chrome, Alpaca and preference rows, and files to quarantine) plus two notes of
   this history's own: version 1, both quants exported, the adapter and the dataset pushed to
   a local recording Hub endpoint;
2. the same line again with a file ingest ignores (a PNG) added: an unchanged rerun;
3. the folder changed (a new file, an edited one, a deleted one, one excluded by the config;
   11-dpo.md as it was) and the GGUF repo configured: version 2, its verified quant pushed.
"""

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
import yaml

from tests.hub_endpoint import HubRecorder
from tests.pipelines.inputs import SAMPLE, mixed_folder, write_config

MODEL = "tuneline-ops"
TOKEN = "hf_test-not-a-secret_tuneline-ops-0001"
OPENAI_KEY = "sk-test-not-a-secret-tuneline-ops-0002"
# a Comet key with no server to reach: the runs are tracked offline (`tracking.online_unreachable`)
COMET_KEY = "comet-test-not-a-secret-tuneline-ops-0003"
STEP_FOLDERS = ("tuneline-sft-*", "tuneline-dpo-*", "tuneline-gguf-*", "tuneline-hub*")


def step_folders() -> set:
    # the cron line runs without TMPDIR (cron's environment): its steps write under /tmp
    places = {Path(tempfile.gettempdir()), Path("/tmp")}
    return {p for place in places for pattern in STEP_FOLDERS for p in place.glob(pattern)}


def run_like_cron(command: str, log: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/root"), "SHELL": "/bin/sh",
           "LOGNAME": "tuneline-test"}
    res = subprocess.run(["/bin/sh", "-c", command], env=env, timeout=1500)
    assert res.returncode == 0, log.read_text()[-3000:] if log.exists() else res


def versions():
    from zenml.client import Client

    return Client().list_model_versions(model_name_or_id=MODEL, sort_by="asc:number", size=50,
                                        hydrate=True).items


def latest_run(pipeline_name: str):
    from zenml.client import Client

    return Client().list_pipeline_runs(pipeline_name=pipeline_name, sort_by="desc:created",
                                       size=1).items[0]


@pytest.fixture(scope="session")
def history(tmp_path_factory):
    from tuneline import schedule
    from tuneline_app.cli import main

    tmp = tmp_path_factory.mktemp("history")
    raw = mixed_folder(tmp / "raw")
    # a document no other test has, so this folder's chunks are computed here, not taken from
    # another test's cached steps
    (raw / "ops-notes.md").write_text(
        "Scheduled retraining runs every Monday at three in the morning. It scans the raw "
        "folder again, reuses every unchanged step from the cache, trains a new adapter, "
        "evaluates it against the production model on the same held-out questions and "
        "promotes it only when it is better by the configured margin.\n")
    # a document the third run no longer has (deleted from the folder)
    (raw / "ops-runbook.md").write_text(
        "When a scheduled run fails, the on-call engineer reads the run log named in the "
        "summary, fixes the cause and starts the same config again by hand. Steps that had "
        "finished are served from the cache, so only the failed step and those after it run.\n")
    cfg_path = Path(write_config(tmp / "retrain.yaml", "end_to_end", raw_dir=str(raw)))
    with HubRecorder() as hub:
        cfg = yaml.safe_load(cfg_path.read_text())
        cfg["model"] = {"name": MODEL}
        # the GGUF repo comes with version 2, the one pushed last: version 1's quants (both
        # exported) are read from the registry by the end-to-end tests
        cfg["steps"]["push_to_hub"] = {"parameters": {"hub": {
            "repo_id": "acme/ops-model", "mode": "adapter", "endpoint": hub.url,
            "only_if_promoted": False}}}
        cfg["steps"]["publish_dataset"] = {"parameters": {"dataset_hub": {
            "repo_id": "acme/ops-data", "endpoint": hub.url, "license": "cc-by-4.0"}}}
        cfg_path.write_text(yaml.safe_dump(cfg))
        env_file = tmp / "secrets.env"
        # the recording endpoint speaks Git LFS, not Xet (the Hub speaks both)
        env_file.write_text(f"HF_TOKEN={TOKEN}\nOPENAI_API_KEY={OPENAI_KEY}\n"
                            f"COMET_API_KEY={COMET_KEY}\nHF_HUB_DISABLE_XET=1\n")
        logs = tmp / "logs"
        name = "ops-retrain"
        installed = None
        if shutil.which("crontab"):
            before = schedule.read_crontab()
            try:
                assert main(["schedule", "add", str(cfg_path), "--cron", "0 3 * * 1",
                             "--name", name, "--env-file", str(env_file),
                             "--log-dir", str(logs)]) == 0
                installed = schedule.read_crontab()
                entry = next(e for e in schedule.list_entries(installed) if e["name"] == name)
                assert main(["schedule", "remove", name]) == 0
                assert schedule.read_crontab().strip() == before.strip()
            finally:
                schedule.write_crontab(before)
            command = entry["command"]
        else:  # the same line `schedule add` would install
            _, command = schedule.default_job(str(cfg_path), name, str(env_file), str(logs))
        log = logs / f"schedule-{name}.log"

        folders = step_folders()
        run_like_cron(command, log)
        left_behind = step_folders() - folders
        first_run = latest_run("end_to_end_pipeline")
        first = versions()

        # 2. a file ingest ignores: the manifest hashes the same, so only what looks at the
        # disk, the registry or the Hub runs again
        (raw / "diagram.png").write_bytes(b"\x89PNG")
        before_rerun = [v.number for v in versions()]
        run_like_cron(command, log)
        rerun = latest_run("end_to_end_pipeline")
        after_rerun = [v.number for v in versions()]

        # 3. the folder changes: a new file, an edited one, a deleted one, one excluded by the
        # config; 11-dpo.md stays as it was
        (raw / "07-minhash.md").write_text((SAMPLE / "07-minhash.md").read_text())
        with open(raw / "ops-notes.md", "a") as f:
            f.write("\nA run that trained nothing new ends with the version it reproduced.\n")
        (raw / "ops-runbook.md").unlink()
        cfg["parameters"]["ingest"] = {"exclude": ["02-lora.md"]}
        cfg["steps"]["export_gguf"]["parameters"]["gguf"]["quants"] = ["q4_k_m"]  # one to push
        cfg["steps"]["push_to_hub"]["parameters"]["hub"]["gguf_repo_id"] = "acme/ops-model-GGUF"
        cfg_path.write_text(yaml.safe_dump(cfg))
        run_like_cron(command, log)
        yield {"raw": raw, "cfg": cfg_path, "hub": hub, "command": command, "installed": installed,
               "first": first, "first_run": first_run, "left_behind": left_behind,
               "rerun": rerun, "before_rerun": before_rerun, "after_rerun": after_rerun, "log": log, "tmp": tmp}
