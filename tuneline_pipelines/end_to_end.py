from __future__ import annotations

from zenml import pipeline

from tuneline.params import EmbeddingParams, GenerateParams, IngestParams, JudgeParams, LLMParams
from tuneline_pipelines.dataset import curate
from tuneline_pipelines.training import BUNDLED_BASE, train_and_register


@pipeline
def end_to_end_pipeline(raw_dir: str = "data/sample", ingest: IngestParams = IngestParams(),
                        llm: LLMParams = LLMParams(),
                        judge_llm: LLMParams | None = None,
                        generation: GenerateParams = GenerateParams(),
                        judging: JudgeParams = JudgeParams(),
                        base_model: str = BUNDLED_BASE,
                        embedding: EmbeddingParams = EmbeddingParams(),
                        system_prompt: str = "") -> None:
    """Raw text to a registered model: curate the data, then SFT, DPO, evaluate, register
    (`system_prompt`: as in the training pipeline)."""
    judge_llm = judge_llm or llm
    train_pairs, test_pairs, train_prefs, _ = curate(raw_dir, ingest, llm, judge_llm, generation,
                                                     judging, embedding)
    train_and_register(train_pairs, test_pairs, train_prefs, base_model, system_prompt,
                       judge_llm, judging)
