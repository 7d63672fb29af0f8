"""The two pipelines `tuneline serve` deploys: the dashboard's "build dataset" and "retrain" forms.

A deployment substitutes the form's values into step parameters of the same name, so each
pipeline's signature repeats its step's.
"""

from __future__ import annotations

from zenml import pipeline

from steps.launch import (
    DATASET_DEFAULT,
    RETRAIN_DEFAULT,
    DatasetConfig,
    DpoBeta,
    Epochs,
    JudgeMinScore,
    LearningRate,
    LoraRank,
    QuestionsPerChunk,
    RetrainConfig,
    TestFraction,
    start_dataset_build,
    start_retrain,
)


@pipeline(enable_cache=False)
def build_dataset(
    config: DatasetConfig = DATASET_DEFAULT, raw_dir: str | None = None,
    questions_per_chunk: QuestionsPerChunk = None, judge_min_score: JudgeMinScore = None,
    test_fraction: TestFraction = None, no_cache: bool = False,
) -> dict:
    """Build dataset: start a dataset run from a config in configs/, with optional overrides."""
    return start_dataset_build(config=config, raw_dir=raw_dir,
                               questions_per_chunk=questions_per_chunk,
                               judge_min_score=judge_min_score, test_fraction=test_fraction,
                               no_cache=no_cache)


@pipeline(enable_cache=False)
def retrain(
    config: RetrainConfig = RETRAIN_DEFAULT, dataset_run: str | None = None,
    epochs: Epochs = None, learning_rate: LearningRate = None, lora_r: LoraRank = None,
    dpo_beta: DpoBeta = None, no_cache: bool = False,
) -> dict:
    """Retrain: start a training run from a config in configs/, with optional overrides."""
    return start_retrain(config=config, dataset_run=dataset_run, epochs=epochs,
                         learning_rate=learning_rate, lora_r=lora_r, dpo_beta=dpo_beta,
                         no_cache=no_cache)


LAUNCHERS = {"tuneline-build-dataset": build_dataset, "tuneline-retrain": retrain}
