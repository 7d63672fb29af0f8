"""What a finished run produced, read back from the store: the facts `tuneline run` prints.

Everything comes from what the steps recorded (ledgers, artifact shapes, evaluation metadata,
the promotion decision), so a cached step reports what it computed in the run it came from.
"""

from __future__ import annotations

import os
from collections import Counter
from datetime import UTC, datetime

from zenml.client import Client

from tuneline.curation.report import FUNNEL
from tuneline.ship import gguf


def _rows(av) -> int | None:
    shape = av.run_metadata.get("shape")
    return int(shape[0]) if shape else None


def _ledgers(step) -> dict[str, dict]:
    return {k: v for k, v in step.run_metadata.items()
            if isinstance(v, dict) and {"inputs", "kept", "dropped"} <= set(v)}


def run_summary(run_id) -> dict:
    """The run's status and duration, its funnel and top drop reasons, evaluation metrics,
    promotion decision, model version and report artifact; on failure, the failed step."""
    client = Client()
    run = client.get_pipeline_run(run_id)
    steps = run.steps
    out: dict = {"run": run.name, "pipeline": run.pipeline.name, "status": run.status.value,
                 "seconds": (run.end_time - run.start_time).total_seconds()
                 if run.end_time and run.start_time else None}
    funnel = []
    for label, step_name, output in FUNNEL:
        if step_name in steps and output in steps[step_name].outputs:
            funnel.append((label, _rows(steps[step_name].outputs[output][0])))
    out["funnel"] = funnel
    reasons: Counter = Counter()
    for step in steps.values():
        for stage, led in _ledgers(step).items():
            for reason, n in led.get("dropped_by_reason", {}).items():
                reasons[f"{stage}: {reason}"] += n
    out["top_drops"] = reasons.most_common(5)
    out["cached_steps"] = sorted(n for n, s in steps.items() if s.status.value == "cached")
    if "split_dataset" in steps and run.status.value == "completed":
        from tuneline.zenml_ext.trace import previous_diff

        out["dataset_diff"] = previous_diff(run)
    if "judge_pairs" in steps:
        out["judge_separation"] = steps["judge_pairs"].run_metadata.get("judge_separation")
    if "evaluate" in steps:
        out["eval"] = steps["evaluate"].run_metadata.get("eval")
    if "register_model" in steps and steps["register_model"].status.value == "completed":
        out["promotion"] = steps["register_model"].outputs["promotion_decision"][0].load()
    settled = run.run_metadata.get("model_version")
    if run.model_version is not None or settled:
        # a run that made no new model ends with an existing version (settle_version)
        mv = (client.get_model_version(settled["name"], settled["version"]) if settled
              else run.model_version)
        out["model"] = {"name": mv.model.name, "version": mv.number, "stage":
                        getattr(mv.stage, "value", mv.stage), "unchanged": bool(settled)}
    for key, step, name in (("report", "quality_report", "data_quality_report"),
                            ("answers", "evaluate", "eval_comparison")):
        if step in steps and name in steps[step].outputs:
            uri = steps[step].outputs[name][0].uri
            # the HTML materializer writes one file in the artifact's folder
            out[key] = f"{uri}/output.html" if os.path.isfile(f"{uri}/output.html") else uri
    if "export_gguf" in steps and steps["export_gguf"].status.value in ("completed", "cached"):
        out["gguf"] = gguf.summary(steps["export_gguf"].outputs["gguf_report"][0].load())
    if "push_to_hub" in steps and steps["push_to_hub"].status.value in ("completed", "cached"):
        push = steps["push_to_hub"].outputs.get("hub_push")
        out["hub"] = (push[0].load() or {}).get("commit_url") if push else None
    failed = [n for n, s in steps.items() if s.status.value == "failed"]
    if failed:
        step = steps[failed[0]]
        out["failed_step"] = failed[0]
        out["failure"] = (step.exception_info.message if step.exception_info else None)
    return out


def latest_run_since(pipeline_name: str, since: datetime) -> object | None:
    """The id of the newest run of the pipeline created at or after `since` (UTC): the run a
    failed `tuneline run` started, or None when it never got that far."""
    runs = Client().list_pipeline_runs(pipeline_name=pipeline_name, sort_by="desc:created",
                                       size=1).items
    if not runs:
        return None
    created = runs[0].created
    created = created.astimezone(UTC) if created.tzinfo else created.replace(tzinfo=UTC)
    return runs[0].id if created >= since.replace(microsecond=0) else None
