"""Finding artifacts across pipelines in the ZenML store."""

from __future__ import annotations

from zenml.client import Client
from zenml.enums import ExecutionStatus

DATASET_PIPELINES = ("dataset_pipeline", "end_to_end_pipeline")
SPLIT_STEP = "split_dataset"


def dataset_artifacts(run: str | None = None) -> dict:
    """The split step's outputs of one run: the named run (name or id), else the latest
    successful dataset or end-to-end run. All come from the same run, so they belong together."""
    client = Client()
    if run is None:
        candidates = [
            r for name in DATASET_PIPELINES
            for r in client.list_pipeline_runs(pipeline_name=name, status=ExecutionStatus.COMPLETED,
                                               sort_by="desc:created", size=1).items
        ]
        if not candidates:
            raise LookupError("no completed dataset run yet: run the dataset pipeline first "
                              "(tuneline run configs/dataset.yaml)")
        found = max(candidates, key=lambda r: r.created)
    else:
        found = client.get_pipeline_run(run)
    if SPLIT_STEP not in found.steps:
        raise LookupError(f"run {found.name!r} has no {SPLIT_STEP} step: not a dataset run")
    return {name: versions[0] for name, versions in found.steps[SPLIT_STEP].outputs.items()}


def _is_ledger(value) -> bool:
    return isinstance(value, dict) and {"inputs", "kept", "dropped"} <= set(value)


def _artifact(av) -> dict:
    shape = av.run_metadata.get("shape")
    return {"artifact": av.artifact.name, "version": av.version, "id": str(av.id),
            "content_hash": av.content_hash, "rows": shape[0] if shape else None}


def _producers_first(deps: dict) -> list:
    """Step runs ordered so that each comes after the steps that produced its inputs."""
    order, done = [], set()

    def visit(node) -> None:
        if node in done or node not in deps:
            return
        done.add(node)
        for parent in sorted(deps[node], key=str):
            visit(parent)
        order.append(node)

    for node in deps:
        visit(node)
    return order


def model_lineage(spec: str | None = None) -> dict:
    """Model version -> training run -> dataset artifact versions -> every step that produced
    them, back to the raw files. Follows artifacts, so steps served from the cache lead to the
    run that actually computed their outputs."""
    from tuneline.zenml_ext.registry import find_model_version

    client = Client()
    mv = find_model_version(spec)
    meta = mv.run_metadata
    if "datasets" not in meta:
        raise LookupError(f"model version {mv.model.name}:{mv.number} has no dataset record; it "
                          "was registered before tuneline recorded lineage")
    run_names: dict = {}

    def run_name(run_id) -> str:
        if run_id not in run_names:
            run_names[run_id] = client.get_pipeline_run(run_id).name
        return run_names[run_id]

    steps, deps, raw = {}, {}, {"dir": None, "files": []}
    queue = [client.get_artifact_version(d["id"]) for d in meta["datasets"].values()]
    seen = set()
    while queue:
        av = queue.pop()
        if av.id in seen or av.producer_step_run_id is None:
            continue
        seen.add(av.id)
        if av.producer_step_run_id in steps:
            continue
        sr = client.get_run_step(av.producer_step_run_id)
        deps[sr.id] = {a.producer_step_run_id for versions in sr.inputs.values() for a in versions
                       if a.producer_step_run_id is not None}
        steps[sr.id] = {
            "step": sr.name, "run": run_name(sr.pipeline_run_id), "step_run_id": str(sr.id),
            "started": sr.start_time.isoformat() if sr.start_time else None,
            "ledgers": {k: v for k, v in sr.run_metadata.items() if _is_ledger(v)},
            "inputs": {n: _artifact(a[0]) for n, a in sr.inputs.items()},
            "outputs": {n: _artifact(a[0]) for n, a in sr.outputs.items()},
        }
        queue += [a for versions in sr.inputs.values() for a in versions]
        if sr.name == "scan_raw":
            raw["dir"] = sr.config.parameters.get("raw_dir")
            raw["files"] = sr.outputs["raw_files"][0].load().to_dict(orient="records")
            raw["manifest"] = _artifact(sr.outputs["raw_files"][0])
    training = meta.get("training_run", {})
    train_steps = {}
    if training.get("id"):
        run = client.get_pipeline_run(training["id"])
        for name in ("sft", "dpo", "evaluate"):
            if name in run.steps:
                s = run.steps[name]
                train_steps[name] = {"metadata": dict(s.run_metadata),
                                     "cached": s.status.value == "cached"}
    return {
        "model": mv.model.name, "version": mv.number, "stage": getattr(mv.stage, "value", mv.stage),
        "base_model": meta.get("base_model"), "eval_metrics": meta.get("eval_metrics", {}),
        "base_eval_metrics": meta.get("base_eval_metrics", {}),
        "promotion": meta.get("promotion", {}),
        "hyperparameters": meta.get("hyperparameters", {}), "hub": meta.get("hub"),
        "training_run": {**training, "steps": train_steps},
        "datasets": meta["datasets"],
        "steps": [steps[i] for i in _producers_first(deps)],
        "raw": raw,
    }
