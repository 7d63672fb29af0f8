from pathlib import Path

import pytest

from tuneline import models
from tuneline_app.config_check import ConfigError, all_steps, validate

CONFIGS = sorted(Path("configs").glob("*.yaml"))


@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
def test_every_shipped_config_validates_against_the_signatures(path):
    assert validate(path) in {"dataset", "training", "end_to_end"}


def test_every_step_has_a_one_line_docstring_for_the_dashboard():
    steps = all_steps()
    assert {"scan_raw", "generate_pairs", "judge_pairs", "sft", "dpo", "register_model"} <= set(steps)
    for name, step in steps.items():
        doc = (step.entrypoint.__doc__ or "").strip()
        assert doc and "\n" not in doc, name


def write(tmp_path, text):
    path = tmp_path / "run.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("text, message", [
    ("parameters:\n  raw_dirr: data\n", "unknown key parameters.raw_dirr"),
    ("parameters:\n  llm: {batch_sise: 4}\n", "parameters.llm"),
    ("steps:\n  sft:\n    parameters:\n      sft: {learning_rat: 0.1}\n", "steps.sft.parameters.sft"),
    ("steps:\n  sft:\n    parameters:\n      sft: {epochs: many}\n", "steps.sft.parameters.sft"),
    ("steps:\n  trainer: {parameters: {}}\n", "unknown step steps.trainer"),
    ("extra: {pipeline: everything}\n", "extra.pipeline 'everything'"),
    ("parameters:\n  llm: {backend: vllm}\n", "parameters.llm"),
])
def test_config_errors_name_the_key_and_the_file(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        validate(path)
    assert message in str(err.value) and str(path) in str(err.value)


def test_pydantic_error_lists_the_misspelt_field(tmp_path):
    with pytest.raises(ConfigError, match="batch_sise"):
        validate(write(tmp_path, "parameters:\n  llm: {batch_sise: 4}\n"))


def test_model_references_resolve_or_say_what_is_missing(tmp_path):
    assert models.resolve(str(tmp_path)) == str(tmp_path)
    assert models.resolve("meta-llama/Llama-3.1-8B-Instruct") == "meta-llama/Llama-3.1-8B-Instruct"
    with pytest.raises(FileNotFoundError, match="does not exist"):
        models.resolve("./models/missing")
    with pytest.raises(ValueError, match="unknown bundled model"):
        models.resolve("bundled:gpt-5")
    assert Path(models.resolve("bundled:all-minilm-l6-v2"), "config.json").exists()
