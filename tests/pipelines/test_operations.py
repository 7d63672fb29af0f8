"""Operations on real pipelines: scheduled retraining from the crontab line, the registry,
lineage back to the raw files, and the Hub push against a local recording endpoint.

The schedule is installed with `tuneline schedule add` in the real crontab when the `crontab`
program exists (CI installs cron; the user's own entries are restored afterwards), and its job
line is run the way cron runs it: /bin/sh -c with cron's bare environment.
"""

import hashlib
import json
import os
import sys
from pathlib import Path

import pytest

from tests.pipelines.conftest import COMET_KEY, MODEL, OPENAI_KEY, TOKEN, versions
from tests.pipelines.inputs import gate_decision
from tuneline_app.cli import main

CURATION_STEPS = ["scan_raw", "ingest_documents", "generate_pairs", "filter_pairs", "dedup_pairs",
                  "check_grounding", "judge_pairs", "build_preferences", "split_dataset"]
# the second version's folder, as scan_raw lists it: the mixed folder less the deleted note and
# the excluded file, with the new one (the PNG is no document: not listed)
SECOND_FOLDER = {"03-qlora.txt", "11-dpo.md", "notes.jsonl", "legacy.txt", "mixed-precision.pdf",
                 "unsloth.html", "alpaca.jsonl", "preferences.jsonl", "locked.pdf", "ops-notes.md",
                 "07-minhash.md"}


@pytest.fixture(scope="module")
def ops(history):
    """The session's scheduled history (tests/pipelines/conftest.py): version 1 from the
    mixed folder, an unchanged rerun, version 2 from the changed folder."""
    return history


def test_crontab_line_is_self_contained(ops):
    cmd = ops["command"]
    assert f"{Path(sys.executable).parent / 'tuneline'} run {ops['cfg']}" in cmd
    # the store travels with the line, the secret does not
    assert "ZENML_CONFIG_PATH=" in cmd and TOKEN not in cmd


def test_schedule_add_installs_the_line_in_the_real_crontab(ops):
    if ops["installed"] is None:
        pytest.skip("no `crontab` program here (.ci/run installs cron): the line was run "
                    "directly under cron's environment instead")
    assert "0 3 * * 1 " in ops["installed"] and TOKEN not in ops["installed"]


def test_scheduled_retraining_adds_a_version_and_decides_promotion(ops):
    from zenml.client import Client

    assert len(ops["first"]) == 1
    all_versions = versions()
    assert len(all_versions) == 2
    latest = all_versions[-1]
    decision = latest.run_metadata["promotion"]
    production = Client().get_model_version(MODEL, "production")
    # the outcome depends on two tiny training runs; whichever it is, it must follow the gate
    run = Client().get_pipeline_run(latest.run_metadata["training_run"]["id"])
    expected = gate_decision(run)
    assert (decision["verdict"], decision["metrics"]) == (expected["verdict"], expected["metrics"])
    if decision["promoted"]:
        assert production.id == latest.id and latest.stage == "production"
    else:
        assert latest.stage == "staging" and decision["verdict"] in ("undecided", "rejected")
    assert decision["metrics"]["eval_loss"]["candidate"] == latest.run_metadata["eval_metrics"]["eval_loss"]
    first = ops["first"][0].run_metadata["promotion"]
    if first["promoted"]:  # production was re-evaluated on the new version's test split
        rerun = latest.run_metadata["production_eval_metrics"]
        assert rerun["version"] == 1 and decision["against"] == "production"
        assert decision["metrics"]["eval_loss"]["incumbent"] == rerun["eval_loss"]
        assert "against production version 1" in decision["reason"]
    else:
        assert decision["against"] == "base"
        assert (decision["metrics"]["eval_loss"]["incumbent"]
                == latest.run_metadata["base_eval_metrics"]["eval_loss"])
    # the second run re-ingested the folder: the new file is in its manifest, generation ran
    # again (new chunks), the unchanged file's calls came from the call cache and gave the
    # same pairs (whether the new file's calls are new depends on what other test modules of
    # the session already asked: the call cache is the session's)
    manifest = run.steps["scan_raw"].outputs["raw_files"][0].load()
    assert set(manifest.path) == SECOND_FOLDER
    assert run.steps["generate_pairs"].status.value == "completed"
    usage = next(iter(run.steps["generate_pairs"].run_metadata["llm_usage"].values()))
    assert usage["cached_calls"] > 0
    first_run = Client().get_pipeline_run(ops["first"][0].run_metadata["training_run"]["id"])

    def dpo_pairs(r):
        df = r.steps["generate_pairs"].outputs["generated_pairs"][0].load()
        return set(df[df.source == "11-dpo.md"].pair_id)

    assert dpo_pairs(run) == dpo_pairs(first_run) and dpo_pairs(run)


def test_models_lists_versions_stages_and_metrics(ops, capsys):
    capsys.readouterr()
    assert main(["models", MODEL, "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["version"] for r in rows] == [2, 1]
    for r in rows:
        assert r["metrics"]["eval_loss"] > 0 and r["base_metrics"]["eval_loss"] > 0 and r["reason"]
    assert main(["models", MODEL]) == 0
    text = capsys.readouterr().out
    assert MODEL in text and "eval_loss" in text


def test_lineage_walks_from_the_version_back_to_the_raw_files(ops, capsys):
    from zenml.client import Client

    capsys.readouterr()
    assert main(["lineage", f"{MODEL}:2", "--json"]) == 0
    lin = json.loads(capsys.readouterr().out)
    assert lin["model"] == MODEL and lin["version"] == 2
    run = Client().get_pipeline_run(lin["training_run"]["id"])
    assert lin["training_run"]["name"] == run.name
    assert lin["hyperparameters"]["sft"]["max_steps"] == 2
    # the dataset artifact versions are the split outputs the training consumed
    for name, d in lin["datasets"].items():
        produced = run.steps["split_dataset"].outputs[name][0]
        assert d["id"] == str(produced.id) and d["content_hash"] == produced.content_hash
        assert d["rows"] == len(produced.load())
    # every curation step, with a balanced ledger
    assert [s["step"] for s in lin["steps"]] == CURATION_STEPS
    for s in lin["steps"]:
        for led in s["ledgers"].values():
            assert led["inputs"] == led["kept"] + led["dropped"]
    # the raw files, as they are on disk (the one the config excludes is not read)
    on_disk = {p.name: (p.stat().st_size, hashlib.sha256(p.read_bytes()).hexdigest())
               for p in ops["raw"].iterdir() if p.name in SECOND_FOLDER}
    assert set(on_disk) == SECOND_FOLDER
    assert {f["path"]: (f["size"], f["sha256"]) for f in lin["raw"]["files"]} == on_disk
    assert lin["raw"]["dir"] == str(ops["raw"])
    # the text view says the same
    assert main(["lineage", f"{MODEL}:2"]) == 0
    text = capsys.readouterr().out
    assert all(name in text for name in on_disk) and "split_dataset" in text


def test_hub_push_sends_the_adapter_and_a_model_card_and_never_the_token(ops):
    hub = ops["hub"]
    model_commits = [c for c in hub.commits if c["repo"] == "acme/ops-model"]
    assert len(model_commits) == 2 and hub.repos["acme/ops-model"]["visibility"] == "private"
    assert {"README.md", "adapter_config.json", "adapter_model.safetensors"} <= set(
        hub.repo_files["acme/ops-model"])
    card = hub.repo_files["acme/ops-model"]["README.md"].decode()
    latest = versions()[-1]
    assert "base_model: HuggingFaceTB/SmolLM2-135M-Instruct" in card
    for name, d in latest.run_metadata["datasets"].items():
        assert f"| {name} | {d['version']} | {d['rows']} | `{d['content_hash']}` |" in card
    assert f"{latest.run_metadata['eval_metrics']['eval_loss']:.4f}" in card
    assert "## Intended use" in card and "| lora.r | 16 |" in card
    assert latest.run_metadata["hub"]["commit"] == model_commits[-1]["oid"]
    # the token went only into the Authorization header
    assert all(r["headers"].get("authorization") == f"Bearer {TOKEN}"
               for r in hub.requests if r["method"] != "PUT")
    assert not any(TOKEN in str(r["headers"]) for r in hub.requests if r["method"] == "PUT")
    assert not any(TOKEN.encode() in content for content in hub.files.values())
    assert not any(TOKEN.encode() in r["body"] for r in hub.requests)
    assert TOKEN not in ops["log"].read_text()


def test_gguf_repo_gets_the_verified_quants_by_lfs_with_modelfiles_and_a_card(ops):
    from zenml.client import Client

    from tuneline.zenml_ext import registry

    hub = ops["hub"]
    latest = versions()[-1]
    report, _ = registry.gguf_export(Client().get_model_version(MODEL, latest.number))
    files = hub.repo_files["acme/ops-model-GGUF"]
    ok = [q for q in report["quants"] if q["verified"]]
    assert ok and set(files) == {"README.md"} | {q["file"] for q in ok} | {q["modelfile"] for q in ok}
    for q in ok:  # the bytes that arrived are the bytes that were checked
        assert files[q["file"]]["oid"] == q["sha256"] and files[q["file"]]["size"] == q["bytes"]
        assert files[q["file"]]["path"].stat().st_size == q["bytes"]
        assert files[q["modelfile"]].startswith(f"FROM ./{q['file']}\n".encode())
    card = files["README.md"].decode()
    assert "base_model: acme/ops-model" in card and "- gguf" in card
    assert f"`{ok[0]['sha256']}`" in card and f"ollama create ops-model-gguf -f {ok[0]['modelfile']}" in card
    pushed = latest.run_metadata["hub"]["gguf"]
    assert pushed["pushed"] and pushed["repo_id"] == "acme/ops-model-GGUF"


def test_dataset_repo_gets_parquet_splits_that_load_and_a_card_with_sources_and_funnel(ops, tmp_path):
    import datasets
    from zenml.client import Client

    hub = ops["hub"]
    commits = [c for c in hub.commits if c["repo"] == "acme/ops-data"]
    # version 1, its unchanged rerun (publishing is a side effect, never cached), version 2
    assert len(commits) == 3 and {c["repo_type"] for c in commits} == {"dataset"}
    assert hub.repos["acme/ops-data"]["type"] == "dataset"
    files = hub.repo_files["acme/ops-data"]
    assert {"README.md", "sft/train.parquet", "sft/test.parquet", "preferences/train.parquet"} <= set(files)
    for path, got in files.items():  # the repo as a clone would have it
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_bytes(got if isinstance(got, bytes) else got["path"].read_bytes())
    run = Client().get_pipeline_run(versions()[-1].run_metadata["training_run"]["id"])
    assert commits[-1]["summary"] == f"tuneline: dataset from run {run.name}"
    produced = run.steps["split_dataset"]
    # a cache of its own: datasets keys its cache by folder name and config, so a folder of the
    # same name from an earlier session would be read back instead of these files
    cache = str(tmp_path / "hf-datasets-cache")
    sft = datasets.load_dataset(str(tmp_path), "sft", cache_dir=cache)
    train = produced.outputs["train_pairs"][0].load()
    assert sft["train"]["instruction"] == list(train.instruction)
    assert sft["train"][0]["prompt"] == [{"role": "user", "content": train.instruction.iloc[0]}]
    assert sft["train"][0]["completion"] == [{"role": "assistant", "content": train.answer.iloc[0]}]
    prefs = datasets.load_dataset(str(tmp_path), "preferences", cache_dir=cache)
    assert len(prefs["train"]) == len(produced.outputs["train_preferences"][0].load())
    card = files["README.md"].decode()
    assert "license: cc-by-4.0" in card and "config_name: sft" in card
    for f in run.steps["scan_raw"].outputs["raw_files"][0].load().itertuples():
        assert f"| {f.path} | {f.size} | `{f.sha256}` |" in card
    summary = run.steps["quality_report"].outputs["curation_summary"][0].load()
    assert [f"| {label} | {n} |" in card for label, n in summary["funnel"]] == [True] * 12
    assert f"| train pairs | {len(train)} |" in card
    for stage, reasons in summary["dropped"].items():
        for reason, n in reasons.items():
            assert f"| {stage} | {reason} | {n} |" in card
    assert "**filter_pairs.filtering**" in card and "| repetition_min_words | 1000 |" in card
    assert "**judge_pairs.judging**" in card and "| min_score | 1.0 |" in card


def test_a_configured_push_without_its_token_fails_before_running(ops, capsys, monkeypatch):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    capsys.readouterr()
    assert main(["run", str(ops["cfg"])]) == 2
    err = capsys.readouterr().err
    assert "HF_TOKEN" in err and "acme/ops-model" in err


def test_planted_secrets_are_nowhere_on_disk(ops):
    """The job ran with HF_TOKEN, OPENAI_API_KEY and COMET_API_KEY in its environment: none may
    appear in the artifact store, the ZenML database, the job's log, Comet's folder or the
    crontab."""
    from zenml.client import Client

    from tuneline import models

    places = [Path(Client().active_stack.artifact_store.path),
              Path(os.environ["ZENML_CONFIG_PATH"]), ops["log"], models.cache_dir() / "comet"]
    scanned = 0
    for place in places:
        for f in ([place] if place.is_file() else place.rglob("*")):
            if f.is_file():
                data = f.read_bytes()
                scanned += 1
                for secret in (TOKEN, OPENAI_KEY, COMET_KEY):
                    assert secret.encode() not in data, f
    assert scanned > 50  # the store, its database and artifacts were really read
    if ops["installed"] is not None:
        assert OPENAI_KEY not in ops["installed"] and COMET_KEY not in ops["installed"]
    # the key was there: tracked online, or (no server to reach here) offline saying why
    from zenml.client import Client as C

    run = C().get_pipeline_run(versions()[-1].run_metadata["training_run"]["id"])
    tracking = run.steps["sft"].run_metadata["sft"]["tracking"]
    assert tracking["mode"] == "online" or tracking["online_unreachable"]
    assert tracking["mode"] == "online" or Path(tracking["archive"]).is_file()


# --- retraining on a changing folder: the diff, the split, trace and forgetting a file ---

def _runs():
    from zenml.client import Client

    return [Client().get_pipeline_run(v.run_metadata["training_run"]["id"]) for v in versions()]


def _json(capsys, *args) -> dict:
    capsys.readouterr()
    assert main([*args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_dataset_diff_names_each_file_change_and_gives_every_changed_pair_its_cause(ops, capsys):
    first, second = _runs()
    d = _json(capsys, "dataset", "diff", first.name, second.name)
    assert d["from"] == first.name and d["to"] == second.name
    assert d["files"] == {"added": ["07-minhash.md"], "changed": ["ops-notes.md"],
                          "deleted": ["ops-runbook.md"], "excluded": ["02-lora.md"]}
    cause = {"07-minhash.md": "new file", "ops-notes.md": "changed file",
             "ops-runbook.md": "deleted file", "02-lora.md": "excluded file"}
    unchanged = SECOND_FOLDER - set(cause)
    assert d["added"] and d["removed"]
    for row in d["added"] + d["removed"] + d["changed"]:
        if row["source"] in cause:
            assert row["cause"] == cause[row["source"]], row
        else:  # an unchanged file (an imported row is "file.jsonl:N"): only a verdict can have changed
            assert row["source"].split(":")[0] in unchanged and row["cause"].startswith("verdict changed"), row
    # every kept pair of the removed files is in the diff as removed
    old = _frames(first)
    gone = {p for name in ("train_pairs", "test_pairs") for p, src in
            zip(old[name].pair_id, old[name].source) if src in ("02-lora.md", "ops-runbook.md")}
    assert gone and gone <= {r["pair_id"] for r in d["removed"]}
    # the second version records it against the first, and the run's summary counts it
    recorded = versions()[-1].run_metadata["dataset_diff"]
    assert recorded["against_version"] == 1 and recorded["from"] == first.name
    assert recorded["counts"] == d["counts"] and recorded["files"] == d["files"]
    # the run's summary compares with the run before it: the unchanged rerun, whose dataset is
    # version 1's (every curation step cached), so the counts are the same
    assert (f"data change  since {ops['rerun'].name}: {d['counts']['added']} pairs added, "
            f"{d['counts']['removed']} removed") in ops["log"].read_text()
    # the text view says the same
    capsys.readouterr()
    assert main(["dataset", "diff", first.name, second.name]) == 0
    text = capsys.readouterr().out
    assert f"{d['counts']['added']} added, {d['counts']['removed']} removed" in text


def _frames(run):
    return {name: run.steps["split_dataset"].outputs[name][0].load()
            for name in ("train_pairs", "test_pairs")}


def test_added_data_moves_no_training_pair_of_the_first_version_into_the_test_split(ops):
    first, second = (_frames(r) for r in _runs())
    assert not set(first["train_pairs"].pair_id) & set(second["test_pairs"].pair_id)
    # the unchanged file's pairs kept their side
    for name in ("train_pairs", "test_pairs"):
        before = set(first[name][first[name].source == "11-dpo.md"].pair_id)
        after_all = set(second["train_pairs"].pair_id) | set(second["test_pairs"].pair_id)
        assert before & after_all <= set(second[name].pair_id)


def test_forgotten_files_leave_nothing_in_the_new_dataset(ops):
    second = _frames(_runs()[1])
    for df in second.values():
        assert not set(df.source) & {"02-lora.md", "ops-runbook.md"}


def test_trace_of_a_kept_pair_names_its_file_chunk_stages_split_and_the_versions_trained_on_it(
        ops, capsys):
    from zenml.client import Client

    first, second = _runs()
    train = _frames(second)["train_pairs"]
    row = train[train.source == "11-dpo.md"].iloc[0]
    # other test modules' runs in this store curate 11-dpo.md too: name the run
    tr = _json(capsys, "trace", row.pair_id[:10], "--run", second.name)
    assert tr["matches"] == 1 and tr["run"] == second.name
    h = tr["examples"][0]
    manifest = second.steps["scan_raw"].outputs["raw_files"][0].load()
    assert h["raw_file"]["sha256"] == manifest[manifest.path == "11-dpo.md"].sha256.iloc[0]
    chunks = second.steps["ingest_documents"].outputs["chunks"][0].load()
    chunk = chunks[chunks.chunk_id == row.chunk_id].iloc[0]
    assert h["chunk"]["chunk_id"] == row.chunk_id and h["chunk"]["section"] == chunk.section
    assert [s["verdict"] for s in h["stages"]] == ["kept"] * 6
    assert h["outcome"] == {"kept": True, "split": "train"}
    judged = second.steps["judge_pairs"].outputs["judged_pairs"][0].load()
    assert h["stages"][4]["score"] == judged[judged.pair_id == row.pair_id].score.iloc[0]
    # the unchanged file's pair is in both versions' training data
    trained = {(m["version"], m["trained_on_it"]) for m in h["models"]
               if m["model"] == MODEL}
    in_first = row.pair_id in set(_frames(first)["train_pairs"].pair_id)
    assert trained == ({(1, True), (2, True)} if in_first else {(2, True)})
    assert {d["run"] for d in h["datasets"]} >= {second.name}
    # by a piece of its text, in the text view
    capsys.readouterr()
    assert main(["trace", row.instruction[5:45], "--run", second.name]) == 0
    text = capsys.readouterr().out
    assert row.pair_id in text and "split kept (train)" in text
    assert Client().get_pipeline_run(tr["run"]).id == second.id


def test_trace_of_a_dropped_pair_stops_at_the_stage_and_reason_each_stage_recorded(ops, capsys):
    second = _runs()[1]
    checked = set()
    for step, output, stage in (("filter_pairs", "filter_rejected", "filter"),
                                ("dedup_pairs", "dedup_rejected", "dedup"),
                                ("check_grounding", "grounding_rejected", "grounding"),
                                ("judge_pairs", "judge_rejected", "judge"),
                                ("split_dataset", "decontaminate_rejected", "split")):
        rejected = second.steps[step].outputs[output][0].load()
        rejected = rejected[rejected.record.str.contains('"instruction"')]
        if rejected.empty:
            continue
        row = rejected.iloc[0]
        tr = _json(capsys, "trace", row.record_id, "--run", second.name)
        h = tr["examples"][0]
        assert h["outcome"] == {"kept": False, "stage": stage, "reason": row.reason}, stage
        assert h["stages"][-1]["detail"] == row.detail
        assert second.name not in {d["run"] for d in h["datasets"]}
        checked.add(stage)
    # the tiny config drops pairs at these stages at least (its judge keeps everything)
    assert {"filter", "grounding"} <= checked, checked


def test_trace_file_names_the_versions_that_learned_from_a_deleted_file_and_an_unchanged_one(
        ops, capsys):
    first, second = _runs()
    gone = _json(capsys, "trace", "--file", "ops-runbook.md")
    # the last run that read the file: the unchanged rerun of version 1
    assert gone["run"] == ops["rerun"].name and not gone["in_latest_run"]
    kept_before = set(_frames(first)["train_pairs"].source)
    expected = {(MODEL, 1)} if "ops-runbook.md" in kept_before else set()
    # (the end-to-end module's training pipeline trains its own model on version 1's dataset)
    assert {(m["model"], m["version"]) for m in gone["models"]
            if m["trained_on_it"] and m["model"] == MODEL} == expected
    assert set(gone["examples"][0]) >= {"pair_id", "instruction", "kept"}
    both = _json(capsys, "trace", "--file", "11-dpo.md", "--run", second.name)
    assert both["run"] == second.name and both["in_latest_run"]
    assert {m["version"] for m in both["models"] if m["trained_on_it"] and m["model"] == MODEL} == {1, 2}
    excluded = _json(capsys, "trace", "--file", "02-lora.md", "--run", second.name)
    assert excluded["scan"]["dropped"] == "excluded" and excluded["examples"] == []
