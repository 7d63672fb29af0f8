"""ZenML pipelines: wiring only. `PIPELINES` maps the names run configs use to pipelines."""

from tuneline_pipelines.dataset import dataset_pipeline
from tuneline_pipelines.end_to_end import end_to_end_pipeline
from tuneline_pipelines.training import training_pipeline

PIPELINES = {
    "dataset": dataset_pipeline,
    "training": training_pipeline,
    "end_to_end": end_to_end_pipeline,
}
