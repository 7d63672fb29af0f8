from __future__ import annotations

from zenml import get_pipeline_context, pipeline

from tuneline.params import JudgeParams, LLMParams
from tuneline.zenml_ext.lineage import dataset_artifacts
from tuneline.zenml_ext.registry import production_adapters
from tuneline_steps.evaluate import evaluate
from tuneline_steps.export import export_gguf
from tuneline_steps.publish import push_to_hub
from tuneline_steps.register import register_model, settle_version
from tuneline_steps.train import dpo, sft

BUNDLED_BASE = "bundled:smollm2-135m-instruct"


def train_and_register(train_pairs, test_pairs, train_preferences, base_model: str,
                       system_prompt: str, judge_llm: LLMParams, judging: JudgeParams) -> None:
    """SFT -> DPO -> evaluate against the base model and production -> register, the gate may
    promote -> GGUF quants checked in llama.cpp -> maybe publish; a run that trained nothing new
    ends with the existing version instead of a copy."""
    sft_adapter = sft(train_pairs, base_model, system_prompt)
    dpo_adapter = dpo(train_preferences, sft_adapter, base_model, system_prompt)
    # The production model is re-evaluated on this run's test split: metrics from different
    # test splits are not comparable. Its adapters are inputs, so a new production version
    # invalidates the cached evaluation.
    incumbent = production_adapters(get_pipeline_context().model) or {}
    metrics, answers, _ = evaluate(test_pairs, sft_adapter, dpo_adapter, base_model,
                                   system_prompt, judge_llm, judging, production_sft=incumbent.get("sft_adapter"),
                                   production_dpo=incumbent.get("dpo_adapter"),
                                   production_version=incumbent.get("version"),
                                   production_base_model=incumbent.get("base_model"))
    decision = register_model(metrics, answers, train_pairs, test_pairs, train_preferences,
                              base_model)
    gguf_files, gguf_report = export_gguf(sft_adapter, dpo_adapter, base_model, test_pairs,
                                          system_prompt, after="register_model")
    push_to_hub(decision, sft_adapter, dpo_adapter, base_model, gguf_files, gguf_report)
    settle_version(decision, after="push_to_hub")


@pipeline
def training_pipeline(base_model: str = BUNDLED_BASE, judge_llm: LLMParams = LLMParams(),
                      judging: JudgeParams = JudgeParams(), dataset_run: str | None = None,
                      system_prompt: str = "") -> None:
    """Fine-tune on a dataset run's artifacts (the latest successful one unless named);
    `system_prompt`: the system prompt of examples that have none, in training, evaluation and
    the Ollama Modelfile ("" = none)."""
    data = dataset_artifacts(dataset_run)
    train_and_register(data["train_pairs"], data["test_pairs"], data["train_preferences"],
                       base_model, system_prompt, judge_llm, judging)
