from __future__ import annotations

from zenml import pipeline

from tuneline.params import EmbeddingParams, GenerateParams, IngestParams, JudgeParams, LLMParams
from tuneline_steps.curate import (
    build_preferences,
    check_grounding,
    dedup_pairs,
    filter_pairs,
    judge_pairs,
)
from tuneline_steps.generate import generate_pairs
from tuneline_steps.ingest import ingest_documents, scan_raw
from tuneline_steps.publish import publish_dataset
from tuneline_steps.report import quality_report
from tuneline_steps.split import split_dataset


def curate(raw_dir: str, ingest: IngestParams, llm: LLMParams, judge_llm: LLMParams,
           generation: GenerateParams, judging: JudgeParams, embedding: EmbeddingParams):
    """Raw folder (and datasets) -> train/test pairs and preferences, plus the data-quality
    report (shared by the dataset and end-to-end pipelines)."""
    # one `ingest` group for both steps: the scan and the reading must agree on the sources
    raw_files, _ = scan_raw(raw_dir, ingest)
    documents, chunks, imported, imported_prefs, ingest_rej = ingest_documents(raw_files, raw_dir,
                                                                                ingest)
    generated, generate_rej = generate_pairs(chunks, llm, generation)
    filtered, filter_rej = filter_pairs(generated, imported)
    unique, dedup_rej = dedup_pairs(filtered, embedding=embedding)
    grounded, grounding_rej = check_grounding(unique, chunks, embedding=embedding)
    judged, judge_rej = judge_pairs(grounded, chunks, judge_llm, judging)
    prefs, pref_rej = build_preferences(judged, chunks, imported_prefs, llm, judge_llm, generation,
                                        judging)
    train, test, train_prefs, test_prefs, decontam_rej = split_dataset(judged, prefs)
    _, summary = quality_report(raw_files, documents, chunks, generated, imported, filtered, unique,
                                grounded, judged, prefs, train, test, ingest_rej, generate_rej,
                                filter_rej, dedup_rej, grounding_rej, judge_rej, pref_rej,
                                decontam_rej)
    publish_dataset(raw_files, train, test, train_prefs, test_prefs, summary)
    return train, test, train_prefs, test_prefs


@pipeline
def dataset_pipeline(raw_dir: str = "data/sample", ingest: IngestParams = IngestParams(),
                     llm: LLMParams = LLMParams(),
                     judge_llm: LLMParams | None = None,
                     generation: GenerateParams = GenerateParams(),
                     judging: JudgeParams = JudgeParams(),
                     embedding: EmbeddingParams = EmbeddingParams()) -> None:
    """Build the instruction and preference datasets from documents and existing data."""
    curate(raw_dir, ingest, llm, judge_llm or llm, generation, judging, embedding)
