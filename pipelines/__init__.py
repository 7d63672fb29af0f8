"""ZenML pipelines: wiring only. `PIPELINES` maps the names run configs use to pipelines."""

from pipelines.dataset import dataset_pipeline
from pipelines.end_to_end import end_to_end_pipeline
from pipelines.training import training_pipeline

PIPELINES = {
    "dataset": dataset_pipeline,
    "training": training_pipeline,
    "end_to_end": end_to_end_pipeline,
}
