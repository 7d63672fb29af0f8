"""The ZenML Model Control Plane side of the registry: what a version records; finding one."""

from __future__ import annotations

from zenml.client import Client
from zenml.enums import ModelStages

# The training steps whose configured parameters are the version's hyperparameters.
TRAINING_STEPS = ("sft", "dpo")  # each takes a parameter group of its own name


def artifact_summary(artifact_version, rows: int | None = None) -> dict:
    """How a model version names one of its dataset artifacts: enough to find it and compare it."""
    return {"artifact": artifact_version.artifact.name, "version": artifact_version.version,
            "id": str(artifact_version.id), "content_hash": artifact_version.content_hash,
            "rows": rows}


def hyperparameters(run) -> dict:
    """Each training step's parameter group as it ran (defaults filled in by ZenML's config)."""
    return {step: run.steps[step].config.parameters.get(step, {})
            for step in TRAINING_STEPS if step in run.steps}


def link_artifacts(artifact_versions, model_version) -> None:
    """Link artifact versions (e.g. a dataset made by another pipeline) to the model version."""
    from zenml.model.utils import link_artifact_version_to_model_version

    linked = {a.id for a in Client().list_artifact_versions(model_version_id=model_version.id,
                                                             size=1000).items}
    for av in artifact_versions:
        if av.id not in linked:
            link_artifact_version_to_model_version(av, model_version)


ADAPTERS = ("sft_adapter", "dpo_adapter")


def run_adapters(run) -> dict[str, str]:
    """The adapter artifact versions a training run ended with: a step served from the cache
    names the artifact version of the run that computed it, so equal ids mean the same model."""
    return {name: str(run.steps[step].outputs[name][0].id)
            for step, name in zip(TRAINING_STEPS, ADAPTERS)}


def version_with_adapters(model_name: str, adapters: dict[str, str], other_than):
    """An existing version of the model (not `other_than`) that recorded these adapters, or None.
    Versions registered before the record existed are not matched."""
    for mv in Client().list_model_versions(model=model_name, sort_by="desc:number", size=1000,
                                           hydrate=True).items:
        if mv.id != other_than and mv.run_metadata.get("adapters") == adapters:
            return mv
    return None


def latest_other_version(model_name: str, other_than):
    """The newest version of the model other than `other_than`, or None."""
    for mv in Client().list_model_versions(model=model_name, sort_by="desc:number", size=2,
                                           hydrate=True).items:
        if mv.id != other_than:
            return mv
    return None


def end_with_version(run_id, duplicate_id, kept) -> None:
    """A run that made no new model: delete the version ZenML created when the run started
    (its artifact links go with it; the artifacts stay) and list the run under `kept`."""
    from zenml.models import ModelVersionPipelineRunRequest

    client = Client()
    client.delete_model_version(duplicate_id)
    client.zen_store.create_model_version_pipeline_run_link(
        ModelVersionPipelineRunRequest(model_version=kept.id, pipeline_run=run_id))


def production_adapters(model) -> dict | None:
    """The model's production version and its adapters (the incumbent to re-evaluate on the
    candidate's test split), or None when there is no production version yet."""
    if model is None:
        return None
    client = Client()
    # a list call: inside a pipeline definition, Client.get_model_version is lazy (a placeholder
    # resolved at run time), and this lookup must happen when the pipeline is composed
    prods = client.list_model_versions(model=model.name, stage=ModelStages.PRODUCTION,
                                       size=1).items
    if not prods:
        return None
    prod = prods[0]
    # production may have been trained on another base model than this run's
    found = {"version": prod.number, "base_model": prod.run_metadata.get("base_model")}
    for name in ("sft_adapter", "dpo_adapter"):
        versions = client.list_artifact_versions(model_version_id=prod.id, artifact=name,
                                                 sort_by="desc:created", size=1).items
        if not versions:
            return None
        found[name] = versions[0]
    return found


def parse_spec(spec: str | None) -> tuple[str | None, str | None]:
    """`MODEL[:VERSION|STAGE]` -> (model, version); either may be None."""
    if not spec:
        return None, None
    name, _, version = spec.partition(":")
    return name or None, version or None


def find_model_version(spec: str | None):
    """The model version `spec` names. No model: the most recently updated one. No version: its
    production version if there is one, else its latest."""
    client = Client()
    name, version = parse_spec(spec)
    if name is None:
        found = client.list_models(sort_by="desc:updated", size=1).items
        if not found:
            raise LookupError("no model in the registry yet: run a training pipeline first")
        name = found[0].name
    if version is None:
        try:
            return client.get_model_version(name, ModelStages.PRODUCTION)
        except KeyError:
            version = ModelStages.LATEST
    elif version.isdigit():
        version = int(version)
    elif version in {s.value for s in ModelStages}:
        version = ModelStages(version)
    try:
        return client.get_model_version(name, version)
    except KeyError as e:
        raise LookupError(f"no model version {name}:{version} in the registry") from e


def linked_artifact(model_version, name: str):
    """The latest version of artifact `name` linked to the model version, or None."""
    found = Client().list_artifact_versions(model_version_id=model_version.id, artifact=name,
                                            sort_by="desc:created", size=1).items
    return found[0] if found else None


def gguf_export(model_version) -> tuple[dict, object] | None:
    """The version's GGUF export: its report (tuneline/ship/gguf.py) and the artifact of its files."""
    report, files = linked_artifact(model_version, "gguf_report"), linked_artifact(
        model_version, "gguf_files")
    if report is None or files is None:
        return None
    return report.load(), files


def version_rows(model: str | None = None) -> list[dict]:
    """One row per model version: stage, metrics, promotion decision, Hub push."""
    client = Client()
    names = [model] if model else [m.name for m in client.list_models(size=1000).items]
    rows = []
    for name in names:
        versions = client.list_model_versions(model=name, sort_by="desc:number",
                                              size=1000, hydrate=True).items
        for mv in versions:
            meta = mv.run_metadata
            promo = meta.get("promotion", {})
            rows.append({
                "model": name, "version": mv.number, "name": mv.name,
                "stage": getattr(mv.stage, "value", mv.stage),
                "created": mv.created.isoformat(timespec="seconds"),
                "base_model": meta.get("base_model"),
                "metrics": meta.get("eval_metrics", {}),
                "base_metrics": meta.get("base_eval_metrics", {}),
                "promoted": promo.get("promoted"), "reason": promo.get("reason"),
                "verdict": promo.get("verdict"),
                "general_regression": bool(promo.get("general_regression")),
                "gate": promo.get("metrics", {}),
                "hub": (meta.get("hub") or {}).get("commit_url"),
                "gguf": _gguf_summary(mv),
            })
    return rows


def _gguf_summary(model_version) -> list[dict]:
    from tuneline.ship import gguf

    export = gguf_export(model_version)
    return gguf.summary(export[0]) if export else []
