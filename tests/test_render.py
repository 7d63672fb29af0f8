"""The summary `tuneline run` prints, from the facts a run recorded (rendering only)."""

from tuneline_app.render import render_summary

TRAINED = {
    "run": "quickstart-1", "pipeline": "end_to_end_pipeline", "status": "completed", "seconds": 372,
    "funnel": [("raw files", 21), ("documents", 24), ("chunks", 46), ("generated pairs", 66),
               ("after filters", 58), ("judged", 39), ("preference pairs", 24), ("train pairs", 29),
               ("test pairs", 8)],
    "top_drops": [("grounding: unsupported_by_source", 17)],
    "eval": {"base": {"eval_loss": 2.9, "judge_score": 3.0}, "tuned": {"eval_loss": 2.5, "judge_score": 3.1}},
    "promotion": {"promoted": True, "stage": "production", "reason": "eval_loss 2.5 beats the base model 2.9"},
    "model": {"name": "tuneline-quickstart", "version": 3, "stage": "production"},
    "report": "/store/report/output.html",
}


def test_a_finished_training_run_says_what_came_out_and_what_to_do_next():
    text = render_summary(TRAINED, "logs/runs/q.log")
    assert text.splitlines()[0] == "tuneline: end_to_end_pipeline run quickstart-1 completed in 6m12s"
    for part in ("chunks                 46  192%", "after filters          58  88%",
                 "train pairs            29  74%", "grounding: unsupported_by_source 17",
                 "base loss 2.9000 judge 3.0000", "promoted to production: eval_loss 2.5 beats",
                 "tuneline-quickstart version 3 [production]", "/store/report/output.html",
                 "full log     logs/runs/q.log", "tuneline lineage tuneline-quickstart:3"):
        assert part in text, part


def test_a_dataset_run_points_at_training_on_it_and_a_failed_run_at_its_step():
    dataset = {k: v for k, v in TRAINED.items() if k not in ("eval", "promotion", "model")}
    text = render_summary(dataset)
    assert "tuneline run configs/training.yaml --set parameters.dataset_run=quickstart-1" in text
    assert "lineage" not in text and "full log" not in text
    failed = {"run": "r", "pipeline": "dataset_pipeline", "status": "failed", "seconds": 3,
              "failed_step": "scan_raw", "failure": "raw folder '/x' does not exist", "funnel": []}
    text = render_summary(failed, "logs/runs/r.log")
    assert text.splitlines() == ["tuneline: dataset_pipeline run r failed in 3s",
                                 "  failed step  scan_raw: raw folder '/x' does not exist",
                                 "  full log     logs/runs/r.log"]


def test_a_judge_that_failed_its_separation_probe_is_named_with_what_to_configure():
    weak = {**TRAINED, "judge_separation": {"probes": 16, "auroc": 0.52, "separates": False, "filtering": False}}
    text = render_summary(weak)
    assert "judge        cannot tell a fitting answer from another question's (AUROC 0.5200 on 16 probes)" in text
    assert "judging.jury" in text
    strong = {**TRAINED, "judge_separation": {"probes": 16, "auroc": 0.9, "separates": True, "filtering": True}}
    assert "cannot tell" not in render_summary(strong)


def test_a_gate_decision_shows_every_metric_with_its_interval_role_and_the_reason():
    from tests.test_gate import decide, rows

    decision = {**decide(rows(n_test=6, judge_drop=1.0)), "stage": "staging"}
    info = {**TRAINED, "promotion": decision,
            "eval": {"base": {"eval_loss": 3.0, "judge_score": 3.2, "instruction_following": 0.5,
                              "examples": 6, "general_prompts": 50},
                     "tuned": {"eval_loss": 2.7, "judge_score": 2.2, "instruction_following": 0.5,
                               "examples": 6, "general_prompts": 50}}}
    text = render_summary(info, None)
    assert "6 test pairs, 50 general prompts; gain of the candidate over the base model, 90% " \
           "intervals (paired bootstrap)" in text
    lines = {line.split()[0]: line for line in text.splitlines() if line.startswith("    ")}
    loss = decision["metrics"]["eval_loss"]
    assert (f"gain {loss['gain']:+.4f} [{loss['gain_interval'][0]:+.4f}, "
            f"{loss['gain_interval'][1]:+.4f}] n=6" in lines["eval_loss"])
    assert lines["eval_loss"].endswith("must improve (margin 0.0)")
    assert lines["judge_score"].endswith("; reported") and "base 3.2" in lines["judge_score"]
    assert lines["instruction_following"].endswith("must not regress (margin 0.15)")
    assert ("kept in staging: undecided against the base model: eval_loss rests on 6 items, "
            "fewer than the 20") in text
    assert "moved the wrong way: judge_score -1.0000" in text


def test_the_version_list_marks_a_version_that_lost_general_ability_even_in_staging():
    from tuneline_app.render import render_versions

    row = {"model": "m", "version": 2, "stage": "staging", "created": "2026-12-07T05:00:00",
           "metrics": {"eval_loss": 2.5, "judge_score": 3.0, "instruction_following": 0.21},
           "base_metrics": {"eval_loss": 2.9}, "hub": None, "gguf": [],
           "reason": "not promoted against the base model: instruction_following regressed",
           "general_regression": True}
    text = render_versions([row, {**row, "version": 1, "general_regression": False}])
    lines = text.splitlines()
    assert "general" in lines[0]
    assert "0.2100  [GENERAL ABILITY REGRESSED] not promoted" in lines[1]
    assert "GENERAL ABILITY" not in lines[2]
