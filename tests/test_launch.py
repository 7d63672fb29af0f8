"""The dashboard forms' core: form values -> run config, the config menus, the detached start."""

import os
import time
from pathlib import Path

import pytest
import yaml
from pydantic import TypeAdapter, ValidationError

from tuneline_app import forms as launch
from tuneline_app.config_check import validate

CONFIGS = Path(__file__).parents[1] / "configs"


def test_derive_sets_only_the_given_fields_and_names_the_run():
    cfg = {"parameters": {"raw_dir": "data/sample", "generation": {"temperature": 0.5}},
           "tags": ["nightly"]}
    out = launch.derive(cfg, {"raw_dir": "docs", "questions_per_chunk": 3, "judge_min_score": None,
                              "test_fraction": ""}, "r1")
    assert out["parameters"] == {"raw_dir": "docs",
                                 "generation": {"temperature": 0.5, "questions_per_chunk": 3}}
    assert "steps" not in out  # empty fields keep the config's values and add nothing
    assert out["run_name"] == "r1" and out["tags"] == ["nightly", launch.TAG]
    assert cfg["parameters"]["raw_dir"] == "data/sample"  # the config itself is untouched


def test_one_field_can_set_several_keys():
    out = launch.derive({}, {"lora_r": 8}, "r")
    assert out["steps"]["sft"]["parameters"]["sft"]["lora"]["r"] == 8
    assert out["steps"]["dpo"]["parameters"]["dpo"]["lora"]["r"] == 8


def test_unknown_field_and_non_mapping_key_are_errors():
    with pytest.raises(launch.LaunchError, match="unknown field 'epoch'"):
        launch.derive({}, {"epoch": 2}, "r")
    with pytest.raises(launch.LaunchError, match="parameters is not a mapping"):
        launch.derive({"parameters": ["x"]}, {"raw_dir": "docs"}, "r")


@pytest.mark.parametrize("field,value,config", [
    ("raw_dir", "data/sample", "dataset"), ("questions_per_chunk", 2, "dataset"),
    ("judge_min_score", 3.0, "dataset"), ("test_fraction", 0.3, "dataset"),
    ("dataset_run", "some-run", "training"), ("epochs", 3.0, "training"),
    ("learning_rate", 1e-4, "training"), ("lora_r", 8, "training"), ("dpo_beta", 0.2, "training"),
])
def test_every_field_lands_on_a_real_parameter(tmp_path, field, value, config):
    # the run-config checker refuses unknown keys: a renamed parameter breaks this test
    cfg = launch.derive(yaml.safe_load((CONFIGS / f"{config}.yaml").read_text()), {field: value}, "r")
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(cfg))
    validate(path)


def test_config_menus_follow_the_pipeline_each_config_runs(tmp_path):
    for name, pipeline in [("a", "dataset"), ("b", "training"), ("c", "end_to_end")]:
        (tmp_path / f"{name}.yaml").write_text(yaml.safe_dump({"extra": {"pipeline": pipeline}}))
    (tmp_path / "broken.yaml").write_text("extra: [")
    assert launch.configs_for("build_dataset", tmp_path) == ["a"]
    assert launch.configs_for("retrain", tmp_path) == ["b", "c"]
    assert launch.configs_for("build_dataset", CONFIGS) == ["dataset"]
    assert set(launch.configs_for("retrain", CONFIGS)) >= {"training", "quickstart", "production"}


def test_run_names_are_unique_and_say_which_config():
    a, b = launch.new_run_name("dataset"), launch.new_run_name("dataset")
    assert a != b and a.startswith("dataset-")


def test_form_fields_carry_the_parameters_bounds_and_descriptions():
    from tuneline_app.launchers import DpoBeta, QuestionsPerChunk, TestFraction

    with pytest.raises(ValidationError, match="greater than or equal to 1"):
        TypeAdapter(QuestionsPerChunk).validate_python(0)
    with pytest.raises(ValidationError, match="less than 1"):
        TypeAdapter(TestFraction).validate_python(1.5)
    assert TypeAdapter(DpoBeta).validate_python(None) is None  # empty: the config's value
    assert "KL penalty" in str(TypeAdapter(DpoBeta).json_schema())


@pytest.mark.slow  # starts a `tuneline run` process
def test_started_run_is_detached_and_logs_to_a_file(tmp_path):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(yaml.safe_dump({"extra": {"pipeline": "dataset"}, "parameters": {"nope": 1}}))
    proc, log = launch.start(cfg, Path(__file__).parents[1])
    # its own session: a signal to the launcher's process group or a closed request misses it
    assert os.getsid(proc.pid) == proc.pid != os.getsid(0)
    deadline = time.monotonic() + 120
    while proc.returncode is None and time.monotonic() < deadline:  # the reaper thread sets it
        time.sleep(0.2)
    assert proc.returncode == 2
    assert "unknown key parameters.nope" in log.read_text()
    assert launch.tail(log, 1).startswith("tuneline:")
