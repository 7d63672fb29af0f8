from __future__ import annotations

from zenml import pipeline

from steps.curate import build_preferences, dedup_pairs, filter_pairs, judge_pairs
from steps.generate import generate_pairs
from steps.ingest import ingest_documents, scan_raw
from steps.split import split_dataset
from tuneline.params import GenerateParams, LLMParams


def curate(raw_dir: str, llm: LLMParams, judge_llm: LLMParams, generation: GenerateParams):
    """Raw folder -> train/test pairs and preferences (shared by the dataset and end-to-end pipelines)."""
    raw_files, _ = scan_raw(raw_dir)
    _, chunks, _ = ingest_documents(raw_files, raw_dir)
    pairs, _ = generate_pairs(chunks, llm, generation)
    pairs, _ = filter_pairs(pairs)
    pairs, _ = dedup_pairs(pairs)
    pairs, _ = judge_pairs(pairs, judge_llm)
    prefs, _ = build_preferences(pairs, llm, generation)
    return split_dataset(pairs, prefs)


@pipeline
def dataset_pipeline(raw_dir: str = "data/sample", llm: LLMParams = LLMParams(),
                     judge_llm: LLMParams | None = None,
                     generation: GenerateParams = GenerateParams()) -> None:
    """Build the instruction and preference datasets from a folder of raw text."""
    curate(raw_dir, llm, judge_llm or llm, generation)
