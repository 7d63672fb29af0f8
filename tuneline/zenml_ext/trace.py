"""`tuneline trace` and `tuneline dataset diff`: an example's history, a file's examples and the
changes between two dataset runs, read from what the runs stored (tuneline/curation/history.py
does the reading of the tables; this module finds and loads them)."""

from __future__ import annotations

from zenml.client import Client
from zenml.enums import ExecutionStatus

from tuneline.curation import history
from tuneline.zenml_ext.lineage import DATASET_PIPELINES, SPLIT_STEP, dataset_run

# loaded artifacts by id: cached steps share artifact versions across runs, so a trace over
# many runs loads each table once
_LOADED: dict = {}


def _load(av):
    if av.id not in _LOADED:
        _LOADED[av.id] = av.load()
    return _LOADED[av.id]


def dataset_runs(limit: int = 50) -> list:
    """Completed runs that made a dataset, newest first."""
    client = Client()
    runs = [r for name in DATASET_PIPELINES
            for r in client.list_pipeline_runs(pipeline_name=name, status=ExecutionStatus.COMPLETED,
                                               sort_by="desc:created", size=limit).items]
    return sorted(runs, key=lambda r: r.created, reverse=True)[:limit]


def run_frames(run, names=history.FRAMES) -> dict:
    """The run's tables that `names` lists, by output name."""
    frames = {}
    for step in run.steps.values():
        for name, versions in step.outputs.items():
            if name in names and versions:
                frames[name] = _load(versions[0])
    return frames


def _run(spec: str | None):
    if spec is None:
        runs = dataset_runs(1)
        if not runs:
            raise LookupError("no completed dataset run yet: run the dataset pipeline first")
        return runs[0]
    run = Client().get_pipeline_run(spec)
    if SPLIT_STEP not in run.steps:
        raise LookupError(f"run {run.name!r} has no {SPLIT_STEP} step: not a dataset run")
    return run


def _generation(run) -> dict:
    """How the run generated pairs: its generation settings and generator model."""
    step = run.steps.get("generate_pairs")
    if step is None:
        return {}
    params = step.config.parameters
    llm = params.get("llm") or {}
    return {"step": "generate_pairs", "run": run.name, "model": llm.get("model"),
            "backend": llm.get("backend"), "settings": params.get("generation") or {}}


def _trained_on() -> dict[str, list[dict]]:
    """dataset artifact id -> the model versions that recorded it (trained on train_pairs,
    evaluated on test_pairs)."""
    client = Client()
    found: dict[str, list[dict]] = {}
    for model in client.list_models(size=1000).items:
        for mv in client.list_model_versions(model=model.name, size=1000, hydrate=True).items:
            for name, art in (mv.run_metadata.get("datasets") or {}).items():
                found.setdefault(art["id"], []).append({
                    "model": model.name, "version": mv.number, "as": name,
                    "stage": getattr(mv.stage, "value", mv.stage)})
    return found


def _holders(runs: list, match, versions: dict) -> tuple[list[dict], list[dict]]:
    """The dataset versions (a run's split artifacts) with a row that `match` accepts, and the
    model versions (`_trained_on`) trained or evaluated on them."""
    datasets, models, seen = [], [], set()
    for run in runs:
        for name in history.SPLITS:
            av = run.steps[SPLIT_STEP].outputs[name][0]
            if not match(_load(av)):
                continue
            datasets.append({"run": run.name, "split": name.removesuffix("_pairs"),
                             "artifact": av.artifact.name, "version": av.version, "id": str(av.id)})
            for mv in versions.get(str(av.id), []):
                key = (mv["model"], mv["version"])
                if key not in seen and mv["as"] in ("train_pairs", "test_pairs"):
                    seen.add(key)
                    models.append({**mv, "trained_on_it": mv["as"] == "train_pairs"})
    return datasets, sorted(models, key=lambda m: (m["model"], m["version"]))


def trace_example(query: str, run: str | None = None, limit: int = 20) -> dict:
    """The history of each pair the query names (an id or a piece of its text) in the newest
    dataset run that has one (or the named run), and every dataset and model version holding it."""
    runs = [_run(run)] if run else dataset_runs()
    if not runs:
        raise LookupError("no completed dataset run yet: run the dataset pipeline first")
    for r in runs:
        frames = run_frames(r)
        ids = history.find_examples(frames, query)
        if ids:
            break
    else:
        raise LookupError(f"no pair matches {query!r} in {'run ' + run if run else 'any dataset run'}")
    out, all_runs, versions = [], dataset_runs(), _trained_on()
    for pid in ids[:limit]:
        h = history.example_history(frames, pid, _generation(r))
        h["run"] = r.name
        h["datasets"], h["models"] = _holders(
            all_runs, lambda df, pid=pid: bool((df["pair_id"] == pid).any()), versions)
        out.append(h)
    return {"query": query, "run": r.name, "matches": len(ids), "examples": out}


def trace_file(path: str, run: str | None = None) -> dict:
    """Every pair a raw file gave in the newest run that scanned it (or the named run), the
    dataset versions holding any pair from it and the model versions trained on those: the
    answer to "what was learned from this file?", also after the file was deleted."""
    runs = dataset_runs()
    if run:
        chosen = _run(run)
    else:
        chosen = next((r for r in runs if path in set(run_frames(r, ("raw_files",))
                                                      .get("raw_files", {"path": []})["path"])),
                      None)
    if chosen is None:
        raise LookupError(f"no dataset run scanned a file {path!r}")
    result = history.file_examples(run_frames(chosen), path)
    result["run"] = chosen.name
    latest = runs[0] if runs else None
    result["in_latest_run"] = bool(latest is not None and path in set(
        run_frames(latest, ("raw_files",))["raw_files"]["path"]))
    result["latest_run"] = latest.name if latest else None

    def from_file(df) -> bool:
        return any(history.raw_path(s, {path}) == path for s in df["source"])

    result["datasets"], result["models"] = _holders(runs, from_file, _trained_on())
    return result


def dataset_diff(a: str | None = None, b: str | None = None) -> dict:
    """Changes from dataset run `a` to `b` (default: the two newest dataset runs)."""
    runs = dataset_runs()
    b_run = _run(b) if b else (runs[0] if runs else None)
    older = [r for r in runs if b_run is not None and r.created < b_run.created]
    a_run = _run(a) if a else (older[0] if older else None)
    if a_run is None or b_run is None:
        raise LookupError("need two dataset runs to compare; name them: "
                          "tuneline dataset diff RUN_A RUN_B")
    diff = history.diff_datasets(run_frames(a_run), run_frames(b_run))
    return {"from": a_run.name, "to": b_run.name, **diff}


def version_diff(old_version, train_pairs) -> dict:
    """What a new version's dataset (its `train_pairs` artifact version) changed against an
    existing model version's: the counts and files, for the new version's metadata."""
    client = Client()
    old = dataset_run(client, old_version.run_metadata)
    new = client.get_pipeline_run(client.get_run_step(train_pairs.producer_step_run_id).pipeline_run_id)
    d = dataset_diff(str(old.id), str(new.id))
    return {"against_version": old_version.number, "from": d["from"], "to": d["to"],
            "counts": d["counts"], "files": d["files"]}


def previous_diff(run) -> dict | None:
    """The run's dataset against the newest earlier completed run of the same pipeline on the
    same raw folder (what a scheduled run changed), or None when there is none."""
    folder = run.steps["scan_raw"].config.parameters.get("raw_dir") if "scan_raw" in run.steps else None
    for older in dataset_runs():
        if (older.created < run.created and older.pipeline.name == run.pipeline.name
                and older.steps["scan_raw"].config.parameters.get("raw_dir") == folder):
            d = dataset_diff(str(older.id), str(run.id))
            return {"from": d["from"], "counts": d["counts"], "files": d["files"]}
    return None
