"""Caching is correct, not just fast: content-hashed inputs and declared core dependencies."""

import inspect
import json
import shutil
import textwrap

from tests.pipelines.conftest import latest_run, versions
from tests.pipelines.inputs import SAMPLE, write_config
from tuneline_app.cli import main
from tuneline_app.config_check import all_steps


def test_each_step_declares_the_core_modules_it_calls():
    from zenml.utils import source_utils

    expected = {
        "ingest_documents": "tuneline.documents.ingest", "generate_pairs": "tuneline.curation.generate",
        "filter_pairs": "tuneline.curation.filters", "dedup_pairs": "tuneline.curation.dedup",
        "check_grounding": "tuneline.curation.source_checks",
        "judge_pairs": "tuneline.curation.judge", "build_preferences": "tuneline.curation.preferences",
        "split_dataset": "tuneline.curation.decontaminate", "quality_report": "tuneline.curation.report",
        "sft": "tuneline.train.trl_backend", "dpo": "tuneline.train.trl_backend",
        "evaluate": "tuneline.ship.evaluate",
    }
    steps = all_steps()
    for name, module in expected.items():
        deps = steps[name].configuration.cache_policy.source_dependencies or []
        assert module in {d.import_path for d in deps}, (name, [d.import_path for d in deps])
        for d in deps:  # what ZenML does with each when it computes the cache key
            assert inspect.ismodule(source_utils.load(d.import_path)), d.import_path


def test_editing_a_declared_core_module_invalidates_the_step(tmp_path, monkeypatch):
    (tmp_path / "cachedep_core.py").write_text("def f(x):\n    return x + 1\n")
    (tmp_path / "cachedep_steps.py").write_text(textwrap.dedent("""
        from zenml import pipeline, step
        from zenml.config import CachePolicy

        import cachedep_core


        @step(cache_policy=CachePolicy(source_dependencies=[cachedep_core]))
        def use_core(x: int) -> int:
            return cachedep_core.f(x)


        @pipeline
        def cachedep_pipeline(x: int = 1) -> None:
            use_core(x)
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    import cachedep_steps

    def status():
        return cachedep_steps.cachedep_pipeline().steps["use_core"].status.value

    assert status() == "completed"
    assert status() == "cached"
    (tmp_path / "cachedep_core.py").write_text("def f(x):\n    return x + 2  # changed\n")
    assert status() == "completed"


def test_identical_upstream_data_keeps_downstream_cached_and_new_data_does_not(history):
    """Read on the session's scheduled history (tests/pipelines/conftest.py)."""
    from zenml.client import Client

    first, rerun = history["first_run"], history["rerun"]
    # A file ingest ignores (a PNG): scan_raw reruns, but its raw_files manifest hashes the same,
    # so every step that reads data, trains or exports is served from the cache
    status = {n: s.status.value for n, s in rerun.steps.items()}
    assert status["scan_raw"] == status["publish_dataset"] == "completed"  # a side effect
    outside = {"scan_raw", "publish_dataset", "register_model", "push_to_hub", "settle_version",
               "evaluate"}  # the disk, the registry, the Hub (evaluate: see test_end_to_end.py)
    assert {s for n, s in status.items() if n not in outside} == {"cached"}, status
    manifest = rerun.steps["scan_raw"].outputs["raw_files"][0]
    assert manifest.content_hash == first.steps["scan_raw"].outputs["raw_files"][0].content_hash
    assert "diagram.png" not in set(manifest.load().path)

    # A new document (and an edited one): ingest and generation run again.
    second = Client().get_pipeline_run(versions()[-1].run_metadata["training_run"]["id"])
    assert second.steps["ingest_documents"].status.value == "completed"
    assert second.steps["generate_pairs"].status.value == "completed"
    assert "07-minhash.md" in set(second.steps["scan_raw"].outputs["raw_files"][0].load().path)


def test_step_outputs_and_their_materializers_are_in_the_same_order_in_every_process():
    # a cache key hashes each step's outputs in config order: if that order depended on the
    # process (set iteration under hash randomisation), a rerun from a new `tuneline run`
    # would miss the cache on some steps (seen: ZenML spreads one materializer over a set)
    import subprocess
    import sys

    prog = ("import json; from tuneline_steps import all_steps; print(json.dumps({n: [[o, [m.import_path "
            "for m in c.materializer_source]] for o, c in s.configuration.outputs.items()] "
            "for n, s in sorted(all_steps().items())}))")
    seen = set()
    # one after another: every ZenML client rewrites the repository's .zen/config.yaml when it
    # starts, and three side by side once read it half written (an AttributeError in one)
    for seed in ("1", "2", "3"):
        proc = subprocess.run([sys.executable, "-c", prog], stdout=subprocess.PIPE, text=True,
                              env={**__import__("os").environ, "PYTHONHASHSEED": seed}, timeout=300)
        assert proc.returncode == 0
        seen.add(proc.stdout.strip().splitlines()[-1])
    assert len(seen) == 1, seen
    outputs = json.loads(seen.pop())
    assert [o for o, _ in outputs["ingest_documents"]] == ["documents", "chunks", "imported_pairs",
                                                          "imported_preferences", "ingest_rejected"]
    assert all(ms == ["tuneline.zenml_ext.materializers.HashedDataFrameMaterializer"]
               for o, ms in outputs["split_dataset"])


def test_a_rerun_with_an_empty_local_cache_reuses_the_stacks_calls_and_equals_a_run_from_scratch(
        tmp_path, monkeypatch):
    """A step in a fresh container has no call cache on its disk: the calls come from the
    stack's artifact store (`llm.shared_cache`), only the edited chunk's are made, and the
    dataset is the one a run from scratch (no step cache, no call cache anywhere) makes."""
    raw = tmp_path / "raw"
    raw.mkdir()
    for name in ("02-lora.md", "11-dpo.md"):
        shutil.copy(SAMPLE / name, raw / name)
    notes = raw / "retraining-notes.md"
    notes.write_text(
        "# Retraining notes\n\nThe retraining job reads the document folder every Monday. It "
        "keeps the adapter rank at sixteen and the learning rate at two times ten to the minus "
        "four, because larger ranks overfit the small weekly batches of new documents.\n")
    # float32: in bf16 a row's neighbours in its batch move its low-order bits, and reused
    # calls change the batches of the calls still to make
    cfg = write_config(tmp_path / "dataset.yaml", "dataset", raw_dir=str(raw),
                       llm={"batch_size": 8, "dtype": "float32"})

    def run(machine: str, *extra: str):
        monkeypatch.setenv("TUNELINE_CALL_CACHE", str(tmp_path / f"{machine}.sqlite"))
        assert main(["run", cfg, *extra]) == 0
        got = latest_run("dataset_pipeline")
        usage = {}
        for step in ("generate_pairs", "judge_pairs", "build_preferences"):
            for u in got.steps[step].run_metadata["llm_usage"].values():
                for k in ("calls", "cached_calls"):
                    usage[k] = usage.get(k, 0) + u.get(k, 0)
        return got, usage

    run("first-machine")
    notes.write_text(notes.read_text() + "\nA run that changes nothing trains nothing.\n")
    incremental, reused = run("fresh-container")
    scratch, fresh = run("scratch-machine", "--no-cache", "--set", "parameters.llm.shared_cache=null")
    assert fresh["cached_calls"] == 0 and fresh["calls"] > 0
    # only the edited document's calls were made again
    assert 0 < reused["calls"] <= fresh["calls"] // 3 and reused["cached_calls"] > 0
    assert reused["calls"] + reused["cached_calls"] == fresh["calls"]
    for name in ("train_pairs", "test_pairs", "train_preferences", "test_preferences"):
        a = incremental.steps["split_dataset"].outputs[name][0]
        b = scratch.steps["split_dataset"].outputs[name][0]
        assert a.content_hash == b.content_hash, name
