"""The real chain on a temporary ZenML store: bundled SmolLM2, MiniLM, TRL on CPU.

Tiny settings (a few chunks, two optimizer steps) keep it to about a minute; the
quickstart config runs the same code at full size.
"""

import html
import json
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.pipelines.conftest import MODEL, latest_run
from tests.pipelines.inputs import gate_decision, write_config
from tuneline.params import PromotionParams
from tuneline.ship import promotion as gate
from tuneline_app.cli import main
from tuneline_pipelines.training import BUNDLED_BASE

CURATION = ["generate", "filter", "exact_dedup", "minhash_dedup", "embedding_dedup", "grounding", "judge"]


@pytest.fixture(scope="module")
def first_run(history):
    """The first run of the session's scheduled history (tests/pipelines/conftest.py): the
    mixed folder, version 1."""
    return history["cfg"], history["first_run"]


def test_a_run_leaves_no_step_folders_behind_and_its_artifacts_still_load(first_run, history):
    # adapters, GGUF files and upload staging live in the artifact store once a step ends
    _, run = first_run
    assert history["left_behind"] == set()
    adapter = run.steps["dpo"].outputs["dpo_adapter"][0].load()
    assert (adapter / "adapter_config.json").is_file()
    gguf_files = run.steps["export_gguf"].outputs["gguf_files"][0].load()
    assert any(p.suffix == ".gguf" for p in gguf_files.iterdir())


def test_every_curation_step_conserves_records_and_keeps_its_rejects(first_run):
    _, run = first_run
    steps = run.steps
    ledgers = {k: v for step in steps.values() for k, v in step.run_metadata.items()
               if isinstance(v, dict) and {"inputs", "kept", "dropped"} <= set(v)}
    assert set(CURATION) | {"scan", "ingest", "preferences", "decontaminate"} <= set(ledgers)
    for stage, led in ledgers.items():
        assert led["inputs"] == led["kept"] + led["dropped"], stage
        assert sum(led["dropped_by_reason"].values()) == led["dropped"], stage
    # each stage's kept records are the next stage's inputs; the filters also take the
    # imported pairs
    imported = len(steps["ingest_documents"].outputs["imported_pairs"][0].load())
    assert imported == 3
    assert ledgers["filter"]["inputs"] == ledgers["generate"]["kept"] + imported
    for before, after in zip(CURATION[1:], CURATION[2:]):
        assert ledgers[before]["kept"] == ledgers[after]["inputs"], (before, after)

    rejected = steps["ingest_documents"].outputs["ingest_rejected"][0].load()
    assert sorted(zip(rejected.reason, rejected.record_id)) == [
        ("bad_json", "notes.jsonl:2"), ("encrypted_file", "locked.pdf"),
        ("malformed_row", "alpaca.jsonl:3"), ("not_utf8", "legacy.txt")]
    assert rejected[rejected.reason == "bad_json"].detail.iloc[0].startswith("notes.jsonl:2:")
    dropped = sum(led["dropped"] for stage, led in ledgers.items() if stage != "scan")
    loaded = sum(len(out[0].load()) for s in steps.values() for name, out in s.outputs.items()
                 if name.endswith("_rejected") and name != "scan_rejected")
    assert loaded == dropped  # every dropped record is in a rejected artifact

    train = steps["split_dataset"].outputs["train_pairs"][0].load()
    test = steps["split_dataset"].outputs["test_pairs"][0].load()
    assert len(train) >= 1 and len(test) >= 1
    assert len(train) + len(test) + ledgers["decontaminate"]["dropped"] == ledgers["judge"]["kept"]
    assert set(train.pair_id).isdisjoint(test.pair_id)


def test_every_record_of_the_mixed_folder_traces_back_to_its_file_and_section(first_run):
    _, run = first_run
    steps = run.steps
    manifest = steps["scan_raw"].outputs["raw_files"][0].load()
    assert set(manifest.path) == {"02-lora.md", "03-qlora.txt", "11-dpo.md", "notes.jsonl",
                                  "legacy.txt", "mixed-precision.pdf", "unsloth.html", "alpaca.jsonl",
                                  "preferences.jsonl", "locked.pdf", "ops-notes.md", "ops-runbook.md"}
    chunks = steps["ingest_documents"].outputs["chunks"][0].load()
    by_file = chunks.groupby("source").agg({"title": "first", "section": list, "text": " ".join})
    assert by_file.loc["mixed-precision.pdf", "title"] == "Mixed precision"
    assert by_file.loc["mixed-precision.pdf", "section"] == ["Mixed precision training"]  # the outline
    assert "stored as 32-bit floating point" in " ".join(by_file.loc["mixed-precision.pdf", "text"].split())
    assert by_file.loc["unsloth.html", "title"].startswith("Unsloth")
    html = by_file.loc["unsloth.html", "text"]
    assert "hand-written Triton kernels" in html
    assert "Privacy policy" not in html and "Blog" not in html and "analytics" not in html
    # every pair, generated or imported, kept or dropped, names a file of the manifest
    files = set(manifest.path)
    pairs = pd.concat([steps["generate_pairs"].outputs["generated_pairs"][0].load(),
                       steps["ingest_documents"].outputs["imported_pairs"][0].load()])
    assert {s.rsplit(":", 1)[0] if s.rsplit(":", 1)[-1].isdigit() else s for s in pairs.source} <= files
    imported = pairs[pairs.chunk_id == ""]
    assert sorted(imported.source) == ["alpaca.jsonl:1", "alpaca.jsonl:2", "preferences.jsonl:1"]
    # each imported pair is in the dataset or in a rejected artifact, with its reason
    final = pd.concat([steps["split_dataset"].outputs[n][0].load() for n in ("train_pairs", "test_pairs")])
    rejected = pd.concat([out[0].load() for s in steps.values() for name, out in s.outputs.items()
                          if name.endswith("_rejected") and name not in ("scan_rejected", "ingest_rejected")])
    for pid in imported.pair_id:
        assert (pid in set(final.pair_id)) != (pid in set(rejected[rejected.stage != "preferences"].record_id)), pid
    labelled = imported[imported.source == "preferences.jsonl:1"].pair_id.iloc[0]
    prefs = steps["build_preferences"].outputs["preferences"][0].load()
    if labelled in set(final.pair_id):  # it reached the preference step: kept, or quarantined there
        assert (labelled in set(prefs.pair_id)) != (labelled in set(rejected.record_id))


def test_data_quality_report_is_a_dashboard_visualization(first_run):
    _, run = first_run
    report = run.steps["quality_report"].outputs["data_quality_report"][0]
    page = str(report.load())
    assert "Funnel" in page and "not_utf8" in page and "Judge scores" in page
    assert [v.type.value for v in report.visualizations] == ["html"]


def test_model_version_is_registered_with_metrics_and_a_stage(first_run):
    from zenml.client import Client

    _, run = first_run
    version = Client().get_model_version(MODEL, run.model_version.number)
    metrics = version.run_metadata["eval_metrics"]
    assert {"eval_loss", "judge_score"} <= set(metrics) and metrics["eval_loss"] > 0
    decision = version.run_metadata["promotion"]
    assert version.stage == decision["stage"] and decision["reason"]
    sft_meta = run.steps["sft"].run_metadata["sft"]
    assert sft_meta["steps"] == 2 and sft_meta["hyperparameters"]["lora"]["r"] == 16


def test_the_run_summary_reads_funnel_metrics_and_decision_from_the_store(first_run):
    from tuneline.zenml_ext.summary import run_summary

    _, run = first_run
    info = run_summary(run.id)
    funnel = dict(info["funnel"])
    outputs = {"chunks": ("ingest_documents", "chunks"), "after dedup": ("dedup_pairs", "unique_pairs"),
               "train pairs": ("split_dataset", "train_pairs")}
    for label, (step, name) in outputs.items():
        assert funnel[label] == len(run.steps[step].outputs[name][0].load()), label
    assert info["status"] == "completed" and info["eval"]["tuned"]["eval_loss"] > 0
    assert info["promotion"] == run.steps["register_model"].outputs["promotion_decision"][0].load()
    assert info["model"]["name"] == MODEL and Path(info["report"]).is_file()
    assert "<h1>Data-quality report</h1>" in Path(info["report"]).read_text()


def test_the_evaluate_step_shows_every_models_answer_to_every_test_and_general_prompt(first_run):
    import re

    from tuneline.zenml_ext.summary import run_summary

    _, run = first_run
    outputs = run.steps["evaluate"].outputs
    answers = outputs["eval_answers"][0].load()
    view = outputs["eval_comparison"][0]
    page = str(view.load())
    assert [v.type.value for v in view.visualizations] == ["html"]  # on the step's page
    test = run.steps["split_dataset"].outputs["test_pairs"][0].load()
    shown = re.findall(r"<tr id='test-([^']+)'>", page)
    # every test pair the models answered (TINY scores the first 2 of the split)
    assert set(shown) == set(test.pair_id[:2]) and len(shown) == min(2, len(test))
    assert len(re.findall(r"<tr id='general-([^']+)'>", page)) == 4  # TINY asks 4
    for row in answers.itertuples():  # every stored answer is on the page
        assert html.escape(row.answer) in page
    assert set(answers.model) == {"base", "tuned"} and "<script" not in page
    assert Path(run_summary(run.id)["answers"]).read_text() == page


def test_a_quickstart_sized_split_is_undecided_under_the_quickstart_gate_as_the_readme_says(first_run):
    """The README states what the quickstart's gate decides on the test pairs its funnel shows;
    the same gate on this run's real answers (2 test pairs) decides the same, for the same
    reason, and the README's count of items is the count its funnel shows."""
    _, run = first_run
    config = yaml.safe_load((Path(__file__).parents[2] / "configs" / "quickstart.yaml").read_text())
    gate_params = (config["steps"].get("register_model", {}).get("parameters", {})
                   .get("promotion", {}))
    answers = run.steps["evaluate"].outputs["eval_answers"][0].load()
    decision = gate.decide(gate.items_from_rows(answers.to_dict("records")), "base",
                           "the base model", PromotionParams(**gate_params))
    assert decision["verdict"] == "undecided" and not decision["promoted"]
    expected = "eval_loss rests on 2 items, fewer than the 20 the gate needs to decide"
    assert expected in decision["reason"]
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    shown = re.search(r"^\s+test pairs\s+(\d+)", readme, re.MULTILINE)
    assert shown, "the README's funnel shows no count of test pairs"
    assert (f"kept in staging: undecided against the base model: eval_loss rests on "
            f"{shown.group(1)} items, fewer than the 20 the gate needs to decide") in readme


def test_an_unchanged_rerun_executes_only_the_scan_registry_and_hub_steps_and_ends_with_the_same_version(
        first_run, history):
    from zenml.client import Client

    from tuneline.zenml_ext.summary import run_summary
    from tuneline_app.render import render_summary

    _, run = first_run
    rerun = history["rerun"]  # the same line again, a PNG added to the folder
    assert rerun.id != run.id
    status = {name: s.status.value for name, s in rerun.steps.items()}
    # scan_raw looks at the disk, register_model and settle_version at the registry,
    # publish_dataset and push_to_hub are side effects (the model push stops at "unchanged");
    # everything else is cached, except evaluate when the first run became production:
    # production is now an input (compared on the same test split), recognised as identical to
    # the candidate and not evaluated again
    executed = {name for name, value in status.items() if value != "cached"}
    assert "quality_report" in status
    promoted = run.steps["register_model"].outputs["promotion_decision"][0].load()["promoted"]
    expected = {"scan_raw", "publish_dataset", "register_model", "push_to_hub",
                "settle_version"} | ({"evaluate"} if promoted else set())
    assert executed == expected, status
    metrics = rerun.steps["evaluate"].outputs["eval_metrics"][0].load()
    if promoted:
        assert metrics["production"] == {**metrics["tuned"], "same_as": "tuned",
                                         "version": run.model_version.number,
                                         "base_model": BUNDLED_BASE}
    decision = rerun.steps["register_model"].outputs["promotion_decision"][0].load()
    number = run.model_version.number
    assert decision["unchanged"] and decision["same_as"] == number and not decision["promoted"]
    # no copy in the registry: the run is listed under the version it reproduced
    assert history["before_rerun"] == history["after_rerun"] == [number]
    assert not rerun.steps["push_to_hub"].outputs["hub_push"][0].load()["pushed"]
    version = Client().get_model_version(MODEL, number)
    links = Client().list_model_version_pipeline_run_links(model_version_id=version.id).items
    assert rerun.id in {link.pipeline_run.id for link in links}
    info = run_summary(rerun.id)
    assert info["model"] == {"name": MODEL, "version": number, "unchanged": True,
                             "stage": getattr(version.stage, "value", version.stage)}
    text = render_summary(info, None)
    assert f"unchanged: same as version {number}" in text and "no new version" in text


def test_training_pipeline_trains_on_the_dataset_runs_artifacts(first_run, tmp_path):
    _, run = first_run
    # named: other modules' dataset runs of this session may be later than the history's
    cfg = write_config(tmp_path / "training.yaml", "training", dataset_run=run.name)
    assert main(["run", cfg]) == 0
    training = latest_run("training_pipeline")
    used = training.steps["sft"].inputs["train_pairs"][0].id
    assert used == run.steps["split_dataset"].outputs["train_pairs"][0].id
    decision = training.steps["register_model"].outputs["promotion_decision"][0].load()
    metrics = training.steps["evaluate"].outputs["eval_metrics"][0].load()
    # the same dataset, so the same test split: production (if any) was re-evaluated on it and
    # the gate compared the candidate with it, item by item
    assert decision["against"] == ("production" if "production" in metrics else "base")
    assert decision["metrics"]["eval_loss"]["candidate"] == metrics["tuned"]["eval_loss"]
    expected = gate_decision(training)
    assert (decision["verdict"], decision["promoted"]) == (expected["verdict"], expected["promoted"])
    assert decision["metrics"] == expected["metrics"]
    # the dataset came from another pipeline's run: it is linked to, and named by, the version
    from zenml.client import Client

    version = Client().get_model_version("tuneline-test", training.model_version.number)
    linked = {a.id for a in Client().list_artifact_versions(model_version_id=version.id,
                                                                size=100).items}
    for name in ("train_pairs", "test_pairs", "train_preferences"):
        produced = run.steps["split_dataset"].outputs[name][0]
        assert produced.id in linked
        assert version.run_metadata["datasets"][name]["id"] == str(produced.id)
        assert version.run_metadata["datasets"][name]["content_hash"] == produced.content_hash
    assert version.run_metadata["training_run"]["name"] == training.name


def _export(run):
    step = run.steps["export_gguf"]
    return step.outputs["gguf_report"][0].load(), Path(step.outputs["gguf_files"][0].load())


def test_gguf_quants_are_exported_verified_and_listed_with_the_version(first_run, capsys):
    from tuneline.documents.ingest import file_sha256

    _, run = first_run
    report, files = _export(run)
    assert [q["quant"] for q in report["quants"]] == ["q8_0", "q4_k_m"]
    for q in report["quants"]:
        assert q["verified"], q["failures"]
        c = q["checks"]
        assert c["template_prompts_matching"] == c["template_prompts"] >= 1
        assert c["answer_tokens"] > 0 and c["merged_cross_entropy"] > 0
        assert file_sha256(files / q["file"]) == q["sha256"]
        assert (files / q["file"]).read_bytes()[:4] == b"GGUF"
        modelfile = (files / q["modelfile"]).read_text()
        assert modelfile.startswith(f"FROM ./{q['file']}\n") and 'PARAMETER stop "<|im_end|>"' in modelfile
        assert q["modelfile_template"]["template"] and 'TEMPLATE """' in modelfile
    q8, q4 = report["quants"]
    assert q4["bytes"] < q8["bytes"]
    assert main(["models", MODEL]) == 0
    out = capsys.readouterr().out
    assert "gguf: q8_0 verified" in out and "q4_k_m verified" in out


def test_serve_model_answers_through_llama_cpp_from_the_registered_quant(first_run, tmp_path):
    from tuneline.llm.local_server import free_port

    _, run = first_run
    port = free_port()
    spec = f"{MODEL}:{run.model_version.number}"
    log = open(tmp_path / "serve.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "tuneline_app.cli", "serve-model", spec,
                             "--quant", "q4_k_m", "--port", str(port), "--threads", "2"],
                            stdout=log, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}/v1"
        for _ in range(240):
            assert proc.poll() is None, (tmp_path / "serve.log").read_text()
            try:
                models = json.load(urllib.request.urlopen(f"{url}/models", timeout=1))
                break
            except OSError:
                import time

                time.sleep(0.5)
        assert [m["id"] for m in models["data"]] == [f"{MODEL}-q4_k_m"]
        req = urllib.request.Request(f"{url}/chat/completions", headers={
            "Content-Type": "application/json"}, data=json.dumps({
                "model": f"{MODEL}-q4_k_m", "max_tokens": 48, "temperature": 0,
                "messages": [{"role": "user", "content": "What is LoRA?"}]}).encode())
        reply = json.load(urllib.request.urlopen(req, timeout=120))
        assert reply["choices"][0]["message"]["content"].strip()
        assert "<|im_end|>" not in reply["choices"][0]["message"]["content"]
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert f"serving {MODEL}-q4_k_m.gguf" in (tmp_path / "serve.log").read_text()
    # stopping the command stopped the server: nothing is left holding the port
    with pytest.raises(OSError):
        urllib.request.urlopen(f"{url}/models", timeout=2)


def test_serve_model_refuses_a_quant_it_does_not_have(first_run, capsys):
    _, run = first_run
    assert main(["serve-model", f"{MODEL}:{run.model_version.number}", "--quant", "q2_k"]) == 1
    assert "has no q2_k quant; it has q8_0, q4_k_m" in capsys.readouterr().err


def test_a_planted_broken_chat_template_is_caught_and_not_published(first_run, tmp_path):
    """The failure users of other tools meet: a GGUF whose embedded template is not the
    model's. Here the q4_k_m file gets Llama 3's template (a real one, from llama-cpp-python)
    through gguf-py's own metadata editor; the checks must fail it and the GGUF repo folder
    must leave it out."""
    from llama_cpp.llama_chat_format import LLAMA3_INSTRUCT_CHAT_TEMPLATE

    from tuneline.params import GGUFParams
    from tuneline.ship import gguf, hub, quant_checks

    _, run = first_run
    report, files = _export(run)
    q4 = next(q for q in report["quants"] if q["quant"] == "q4_k_m")
    broken = tmp_path / q4["file"]
    editor = gguf.converter_dir() / "gguf-py" / "gguf" / "scripts" / "gguf_new_metadata.py"
    subprocess.run([sys.executable, str(editor), str(files / q4["file"]), str(broken),
                    "--chat-template", LLAMA3_INSTRUCT_CHAT_TEMPLATE, "--force"],
                   check=True, capture_output=True)
    # the merged model's side, as the export computed it
    ref = json.loads((files / gguf.REFERENCE_FILE).read_text())
    params = GGUFParams()
    verdict = quant_checks.check("q4_k_m", ref, quant_checks.probe(broken, ref, 64, 2),
                         params.max_ce_increase["q4_k_m"], params.min_top1_agreement["q4_k_m"],
                         params.min_stop_ratio)
    assert not verdict["verified"] and verdict["template_prompts_matching"] == 0
    assert verdict["failures"][0].startswith("chat template:")
    planted = {**report, "quants": [q if q["quant"] != "q4_k_m" else
                                    {**q, "verified": False, "failures": verdict["failures"],
                                     "checks": verdict} for q in report["quants"]]}
    folder, skipped = hub.gguf_folder(tmp_path / "repo", files, planted, "acme/m-GGUF", None,
                                      "bundled:smollm2-135m-instruct",
                                      {"model": "tuneline-test", "version": 1}, None)
    published = sorted(p.name for p in folder.iterdir())
    assert published == sorted(["README.md", "Modelfile.q8_0", report["quants"][0]["file"]])
    assert skipped["q4_k_m"][0].startswith("chat template:")


def test_dataset_export_round_trips_each_format_through_datasets(first_run, tmp_path, capsys):
    import datasets

    _, run = first_run
    outputs = run.steps["split_dataset"].outputs
    train = outputs["train_pairs"][0].load()
    test = outputs["test_pairs"][0].load()
    prefs = outputs["train_preferences"][0].load()
    assert len(prefs) > 0
    # the turn each format puts the instruction and the answer in
    read = {
        "alpaca": lambda r: (r["instruction"], r["output"]),
        "sharegpt": lambda r: (r["conversations"][0]["value"], r["conversations"][1]["value"]),
        "openai": lambda r: (r["messages"][0]["content"], r["messages"][1]["content"]),
        "parquet": lambda r: (r["instruction"], r["answer"]),
    }
    chosen = {
        "alpaca": lambda r: (r["prompt"], r["chosen"], r["rejected"]),
        "sharegpt": lambda r: (r["conversations"][0]["value"], r["chosen"]["value"], r["rejected"]["value"]),
        "openai": lambda r: (r["input"]["messages"][0]["content"], r["preferred_output"][0]["content"],
                             r["non_preferred_output"][0]["content"]),
        "parquet": lambda r: (r["prompt"], r["chosen"], r["rejected"]),
    }
    for fmt in read:
        out = tmp_path / fmt
        assert main(["dataset", "export", run.name, "--format", fmt, str(out)]) == 0
        kind = "parquet" if fmt == "parquet" else "json"
        ext = "parquet" if fmt == "parquet" else "jsonl"
        # pairs and preferences have different columns: two datasets, as a trainer loads them
        cache = str(tmp_path / "hf-datasets-cache")  # not ~/.cache, shared across sessions
        loaded = datasets.load_dataset(kind, data_files={s: str(out / f"{s}.{ext}") for s in
                                                         ("train", "test")}, cache_dir=cache)
        for split, frame in (("train", train), ("test", test)):
            assert [read[fmt](r) for r in loaded[split]] == list(zip(frame.instruction, frame.answer))
        loaded = datasets.load_dataset(kind, data_files=str(out / f"preferences.{ext}"),
                                       cache_dir=cache)["train"]
        assert [chosen[fmt](r) for r in loaded] == list(
            zip(prefs.instruction, prefs.chosen, prefs.rejected))
    assert f"{len(train):>5} train" in capsys.readouterr().out
    assert main(["dataset", "export", "no-such-run", "--format", "alpaca", str(tmp_path / "x")]) == 1
