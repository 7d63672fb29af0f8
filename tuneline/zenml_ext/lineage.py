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


def dataset_run(client, meta: dict):
    """The run that made the version's dataset: the training run itself (end to end), or the
    dataset run whose split step output the training data."""
    run = client.get_pipeline_run(meta["training_run"]["id"])
    if SPLIT_STEP in run.steps:
        return run
    av = client.get_artifact_version(meta["datasets"]["train_pairs"]["id"])
    return client.get_pipeline_run(client.get_run_step(av.producer_step_run_id).pipeline_run_id)


def model_lineage(spec: str | None = None) -> dict:
    """Model version -> training run -> dataset artifact versions -> every step of the run that
    made them -> the raw files that run scanned. A step the run took from the cache names the
    run that computed it (`computed_in`); its outputs are the same artifacts either way."""
    from tuneline.zenml_ext.registry import find_model_version

    client = Client()
    mv = find_model_version(spec)
    meta = mv.run_metadata
    if "datasets" not in meta or "training_run" not in meta:
        raise LookupError(f"model version {mv.model.name}:{mv.number} has no dataset record; it "
                          "was registered before tuneline recorded lineage")
    run_names: dict = {}

    def run_name(run_id) -> str:
        if run_id not in run_names:
            run_names[run_id] = client.get_pipeline_run(run_id).name
        return run_names[run_id]

    data_run = dataset_run(client, meta)
    # a cached step's inputs are the artifacts of the run that computed it; this run's own
    # upstream step made the same content (that is why the cache was hit): match by hash too
    by_output = {}
    for sr in data_run.steps.values():
        for versions in sr.outputs.values():
            for a in versions:
                by_output[a.id] = by_output[(a.artifact.name, a.content_hash)] = sr

    def producer_here(a):
        return by_output.get(a.id) or (by_output.get((a.artifact.name, a.content_hash))
                                       if a.content_hash else None)

    steps, deps, raw = {}, {}, {"dir": None, "files": []}
    queue, seen = [data_run.steps[SPLIT_STEP]], set()
    while queue:
        sr = queue.pop()
        if sr.id in seen:
            continue
        seen.add(sr.id)
        parents = [p for versions in sr.inputs.values() for a in versions
                   if (p := producer_here(a)) is not None]
        deps[sr.id] = {p.id for p in parents}
        queue += parents
        first = next(iter(sr.outputs.values()))[0]
        computed = (client.get_run_step(first.producer_step_run_id)
                    if first.producer_step_run_id and first.producer_step_run_id != sr.id else sr)
        metadata = sr.run_metadata or computed.run_metadata
        steps[sr.id] = {
            "step": sr.name, "status": sr.status.value, "run": data_run.name,
            "computed_in": run_name(computed.pipeline_run_id),
            "ledgers": {k: v for k, v in metadata.items() if _is_ledger(v)},
            "inputs": {n: _artifact(a[0]) for n, a in sr.inputs.items()},
            "outputs": {n: _artifact(a[0]) for n, a in sr.outputs.items()},
        }
        if sr.name == "scan_raw":
            raw["dir"] = sr.config.parameters.get("raw_dir")
            raw["files"] = sr.outputs["raw_files"][0].load().to_dict(orient="records")
            raw["manifest"] = _artifact(sr.outputs["raw_files"][0])
    training = meta["training_run"]
    train_run = client.get_pipeline_run(training["id"])
    train_steps = {name: {"metadata": dict(train_run.steps[name].run_metadata),
                          "status": train_run.steps[name].status.value}
                   for name in ("sft", "dpo", "evaluate") if name in train_run.steps}
    return {
        "model": mv.model.name, "version": mv.number, "stage": getattr(mv.stage, "value", mv.stage),
        "base_model": meta.get("base_model"), "eval_metrics": meta.get("eval_metrics", {}),
        "base_eval_metrics": meta.get("base_eval_metrics", {}),
        "production_eval_metrics": meta.get("production_eval_metrics", {}),
        "promotion": meta.get("promotion", {}),
        "hyperparameters": meta.get("hyperparameters", {}), "hub": meta.get("hub"),
        "training_run": {**training, "steps": train_steps},
        "dataset_run": {"name": data_run.name, "id": str(data_run.id),
                        "pipeline": data_run.pipeline.name},
        "datasets": meta["datasets"],
        "steps": [steps[i] for i in _producers_first(deps)],
        "raw": raw,
    }
