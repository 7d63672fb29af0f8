"""Runs started from the ZenML dashboard, in a real browser (headless Debian chromium driven by
Playwright): `tuneline serve up`, the "build dataset" deployment's Playground form, the run it
starts shown to completion in the dashboard, and its status read back through the ZenML client.

The server gets a ZenML store of its own (ZENML_CONFIG_PATH), so the session's store and every
other test are untouched. `make test` installs chromium (Debian's package) and Playwright.
"""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests import tiny
from tests.pipelines.inputs import SAMPLE, TINY, write_config

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# what a root, network-less machine needs: no sandbox, no calls home
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
RUN_TIMEOUT_S = 900
# keys in the environment `serve up` starts in reach the runs, and must land nowhere on disk
PLANTED = {"HF_TOKEN": "hf_test-not-a-secret_tuneline-dash-0001",
           "OPENAI_API_KEY": "sk-test-not-a-secret-tuneline-dash-0002"}
TUNELINE = str(Path(sys.executable).with_name("tuneline"))



def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def client_query(env: dict, code: str):
    """Run `code` (which sets `out`) with the ZenML client of the dashboard's store."""
    prog = f"import json\nfrom zenml.client import Client\nc = Client()\n{code}\nprint(json.dumps(out))"
    res = subprocess.run([sys.executable, "-c", prog], env=env, capture_output=True, text=True, check=False,
                         timeout=120)
    assert res.returncode == 0, res.stderr[-3000:]
    return json.loads(res.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs it (apt-get install chromium)")
    tmp = tmp_path_factory.mktemp("dashboard")
    configs = tmp / "configs"
    configs.mkdir()
    dataset = json.loads(json.dumps(TINY))
    dataset.pop("model")
    dataset["extra"] = {"pipeline": "dataset"}
    dataset["parameters"]["raw_dir"] = str(SAMPLE)  # the form replaces these two
    dataset["parameters"]["generation"]["questions_per_chunk"] = 1
    (configs / "tiny-dataset.yaml").write_text(yaml.safe_dump(dataset))
    # the retrain form's run trains the tiny random model (tests/tiny.py): what this module
    # checks is that the form's values reach a real run that completes, not the model it makes
    write_config(configs / "tiny-training.yaml", "training", base_model=tiny.path())
    raw = tmp / "raw"
    raw.mkdir()
    for name in ("02-lora.md", "03-qlora.txt", "11-dpo.md"):
        shutil.copy(SAMPLE / name, raw / name)
    port = free_port()
    env = {**os.environ, "ZENML_CONFIG_PATH": str(tmp / "zenml"), **PLANTED}
    up = subprocess.run([TUNELINE, "serve", "up", "--port", str(port), "--configs", str(configs)],
                        env=env, capture_output=True, text=True, check=False, timeout=600)
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        yield {"url": f"http://127.0.0.1:{port}", "env": env, "raw": raw, "tmp": tmp,
               "up": up.stdout}
    finally:
        down = subprocess.run([TUNELINE, "serve", "down", "--force"], env=env,
                              capture_output=True, text=True, check=False, timeout=300)
        assert down.returncode == 0, down.stdout + down.stderr


@pytest.fixture(scope="module")
def page(served):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        page.goto(served["url"])
        page.get_by_label("Dismiss local-server notice").click()  # the "try ZenML Pro" banner
        yield page
        browser.close()


def submit_playground(page, base: str, deployment: str, form: dict, default: str = "no_cache",
                      answer: str = "started_run") -> str:
    """Open the deployment's Playground, replace the form's JSON, press Run; the page's text
    once the answer (or the form's complaint) is shown."""
    from playwright.sync_api import expect

    page.goto(f"{base}/projects/default/deployments")
    page.get_by_text(deployment, exact=True).first.click()
    page.get_by_text("Playground", exact=True).first.click()
    editor = page.locator(".monaco-editor").first
    expect(editor).to_contain_text(f'"{default}"')  # the form's defaults are in: now replace them
    editor.click()
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    # one line, inserted like a paste: typing would trigger the editor's auto-closing brackets
    page.keyboard.insert_text(json.dumps(form))
    page.keyboard.press("Control+Shift+I")  # the editor's Format Document: one field per line
    for key in form:
        expect(editor).to_contain_text(f'"{key}"')
    expect(editor).not_to_contain_text("null")  # the defaults (nulls) are gone; no form has one
    page.get_by_role("button", name="Run", exact=True).click()
    page.get_by_text(re.compile(f"{answer}|Failed to invoke deployment|Input should be")).first \
        .wait_for(timeout=240_000)
    return page.inner_text("body")


def test_build_dataset_from_the_dashboard(served, page):
    base, env = served["url"], served["env"]
    assert all(f"tuneline-{d}" in served["up"] for d in ("build-dataset", "retrain", "trace"))

    body = submit_playground(page, base, "tuneline-build-dataset",
                             {"config": "tiny-dataset", "raw_dir": str(served["raw"]),
                              "questions_per_chunk": 2})
    page.screenshot(path=str(served["tmp"] / "playground.png"), full_page=True)
    run_name = re.search(r"tiny-dataset-\d{4}_\d\d_\d\d-\d\d_\d\d_\d\d-[0-9a-f]{6}", body).group(0)
    url = re.search(r"http://127\.0\.0\.1:\d+/projects/default/runs/[0-9a-f-]{36}", body).group(0)

    # The answer came while the run goes on in its own process: watch it in the dashboard.
    watch(page, env, url, run_name)
    page.screenshot(path=str(served["tmp"] / "run.png"), full_page=True)
    if shots := os.environ.get("TUNELINE_SCREENSHOTS"):  # to refresh the README's pictures
        for name in ("playground.png", "run.png"):
            shutil.copy(served["tmp"] / name, Path(shots) / f"dashboard-{name}")

    run = client_query(env, f"""r = c.get_pipeline_run({run_name!r})
out = {{"status": r.status.value, "pipeline": r.pipeline.name, "tags": [t.name for t in r.tags],
        "raw_dir": r.config.parameters["raw_dir"],
        "questions": r.config.parameters["generation"]["questions_per_chunk"],
        "steps": {{n: s.status.value for n, s in r.steps.items()}},
        "train": r.steps["split_dataset"].outputs["train_pairs"][0].load().shape[0],
        "pair": r.steps["split_dataset"].outputs["train_pairs"][0].load().iloc[0].to_dict()}}""")
    assert run["status"] == "completed", launch_log(run_name)
    assert run["pipeline"] == "dataset_pipeline"
    assert "dashboard" in run["tags"]
    # the form's values, not the config's
    assert run["raw_dir"] == str(served["raw"]) and run["questions"] == 2
    assert set(run["steps"].values()) == {"completed"} and "quality_report" in run["steps"]
    assert run["train"] > 0
    # what the browser shows is that run, finished
    text = page.inner_text("body")
    assert run_name in text and "completed" in text
    served["dataset_run"] = run_name
    served["train_pair"] = run["pair"]


def test_trace_from_the_dashboard_answers_with_the_examples_history(served, page):
    if "train_pair" not in served:
        pytest.skip("needs the dataset run of test_build_dataset_from_the_dashboard")
    pair = served["train_pair"]
    submit_playground(page, served["url"], "tuneline-trace",
                      {"query": pair["pair_id"][:12], "run": served["dataset_run"]},
                      default="query", answer="examples")
    page.get_by_text("JSON", exact=True).first.click()  # the answer as JSON (its first lines)
    page.get_by_text(re.compile(pair["pair_id"])).first.wait_for(timeout=30_000)
    body = page.inner_text("body")
    assert pair["pair_id"] in body and pair["source"] in body
    # the whole answer is the trace run's output: the history `tuneline trace --json` gives
    got = client_query(served["env"], """r = c.list_pipeline_runs(pipeline_name="trace_example",
    sort_by="desc:created", size=1, hydrate=True).items[0]
step = r.steps["trace_lookup"]
out = [r.status.value, step.outputs["trace"][0].load(), str(step.outputs["trace_view"][0].load())]""")
    status, trace, view = got
    assert status == "completed" and trace["run"] == served["dataset_run"]
    history = trace["examples"][0]
    assert history["pair_id"] == pair["pair_id"] and history["outcome"] == {"kept": True, "split": "train"}
    assert [s["verdict"] for s in history["stages"]] == ["kept"] * 6
    assert history["raw_file"]["path"] == pair["source"] and len(history["raw_file"]["sha256"]) == 64
    assert f"pair {pair['pair_id']}: kept, train split" in view


def test_retrain_from_the_dashboard(served, page):
    env = served["env"]
    dataset_run = served.get("dataset_run")
    assert dataset_run, "needs the dataset the first test built"
    body = submit_playground(page, served["url"], "tuneline-retrain",
                             {"config": "tiny-training", "dataset_run": dataset_run, "lora_r": 8,
                              "dpo_beta": 0.2})
    run_name = re.search(r"tiny-training-[0-9_-]+-[0-9a-f]{6}", body).group(0)
    url = re.search(r"http://127\.0\.0\.1:\d+/projects/default/runs/[0-9a-f-]{36}", body).group(0)
    watch(page, env, url, run_name)
    run = client_query(env, f"""r = c.get_pipeline_run({run_name!r})
sft, dpo = (r.steps[n].config.parameters[n] for n in ("sft", "dpo"))
out = {{"status": r.status.value, "lora_r": [sft["lora"]["r"], dpo["lora"]["r"]],
        "beta": dpo["beta"], "versions": c.list_model_versions("tuneline-test").total}}""")
    assert run["status"] == "completed", launch_log(run_name)
    assert run["lora_r"] == [8, 8] and run["beta"] == 0.2  # the form's values reached the steps
    assert run["versions"] == 1


def launch_log(run_name: str) -> str:
    """The started run's own output, for a failure message."""
    log = Path(__file__).parents[2] / "logs" / "launches" / f"{run_name}.log"
    return log.read_text()[-4000:] if log.exists() else f"{log} is missing"


def ended(run_name: str) -> bool:
    """The started run's own log ends with its summary line (`tuneline run` writes it when the
    run has ended): read from the file, not with a ZenML client process per look."""
    log = Path(__file__).parents[2] / "logs" / "launches" / f"{run_name}.log"
    text = log.read_text(errors="replace") if log.exists() else ""
    name = re.escape(run_name)
    return re.search(rf"run {name} (completed|failed|stopped) in |{name} did not start", text) is not None


def watch(page, env, url: str, run_name: str) -> None:
    """Show the run's page until the run ends; reload once it has."""
    page.goto(url)
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while not ended(run_name) and time.monotonic() < deadline:
        time.sleep(1)
    page.reload()
    page.get_by_text("Run Insights").first.wait_for(timeout=60_000)
    page.get_by_label("Fit view").click(timeout=60_000)  # there once the DAG is drawn
    page.wait_for_timeout(1000)  # the zoom animation


def dataset_runs(env) -> list[str]:
    return client_query(env, "out = [r.name for r in c.list_pipeline_runs("
                             "pipeline_name='dataset_pipeline', size=50).items]")


def test_out_of_range_value_is_refused_by_the_form(served, page):
    before = dataset_runs(served["env"])
    body = submit_playground(page, served["url"], "tuneline-build-dataset",
                             {"config": "tiny-dataset", "questions_per_chunk": 0})
    assert "questions_per_chunk: Input should be greater than or equal to 1" in body
    assert dataset_runs(served["env"]) == before


def test_missing_raw_folder_fails_the_launch_with_its_reason(served, page):
    before = dataset_runs(served["env"])
    body = submit_playground(page, served["url"], "tuneline-build-dataset",
                             {"config": "tiny-dataset", "raw_dir": "/nonexistent/docs"})
    assert "Failed to invoke deployment" in body
    # the reason is on the launcher's failed step, one click away ("Run Details")
    reason = client_query(served["env"], """r = c.list_pipeline_runs(pipeline_name="build_dataset",
    sort_by="desc:created", size=1, hydrate=True).items[0]
out = [r.status.value, r.steps["start_dataset_build"].exception_info.message]""")
    assert reason[0] == "failed" and "'/nonexistent/docs' is not a folder" in reason[1]
    assert dataset_runs(served["env"]) == before


def test_down_refuses_while_a_started_run_is_running_and_invoking_needs_the_key(served):
    # the Playground's own request, sent directly: the browser isn't the point here
    import urllib.error
    import urllib.request

    endpoint, key = re.search(r"tuneline-build-dataset: running at (\S+) auth key (\S+)",
                              served["up"]).groups()
    form = {"config": "tiny-dataset", "raw_dir": str(served["raw"]), "no_cache": True}
    body = json.dumps({"parameters": form}).encode()
    anonymous = urllib.request.Request(f"{endpoint}/invoke", body, {"Content-Type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as refused:  # no key, no run
        urllib.request.urlopen(anonymous, timeout=60)
    assert refused.value.code == 401
    req = urllib.request.Request(f"{endpoint}/invoke", body, {"Content-Type": "application/json",
                                                              "Authorization": f"Bearer {key}"})
    with urllib.request.urlopen(req, timeout=300) as resp:
        answer = json.load(resp)
    assert answer["success"], answer
    run_name = answer["outputs"]["started_run"]["run_name"]
    status = subprocess.run([TUNELINE, "serve", "status", "--json"], env=served["env"],
                            capture_output=True, text=True, check=False, timeout=120)
    status = json.loads(status.stdout)
    assert status["dashboard"] == served["url"] and run_name in status["running"]
    assert {d["status"] for d in status["deployments"].values()} == {"running"}
    down = subprocess.run([TUNELINE, "serve", "down"], env=served["env"], capture_output=True,
                          text=True, timeout=120, check=False)
    assert down.returncode == 2 and run_name in down.stderr and "--force" in down.stderr
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while not ended(run_name) and time.monotonic() < deadline:
        time.sleep(1)


def test_keys_in_the_environment_are_nowhere_on_disk(served):
    # after the runs above: the dashboard's whole store (database, artifacts, step and
    # deployment logs) and the launch configs and logs of the runs started here
    started = client_query(served["env"], "out = [r.name for r in c.list_pipeline_runs("
                                          "tags=['dashboard'], size=100).items]")
    launches = Path(__file__).parents[2] / "logs" / "launches"
    files = [p for p in (served["tmp"] / "zenml").rglob("*") if p.is_file()]
    files += [p for name in started for p in launches.glob(f"{name}.*")]
    assert len(files) > 20 and any(p.suffix == ".log" for p in files)
    for path in files:
        data = path.read_bytes()
        for key, value in PLANTED.items():
            assert value.encode() not in data, f"{key} found in {path}"
