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
