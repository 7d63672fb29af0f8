"""Stack recipes, the local GPU step operator, and the GPU configs that use them."""

import os
import tomllib
from pathlib import Path

import pytest
import yaml

from tuneline.zenml_ext import gpu_step_operator as gso
from tuneline.zenml_ext import stacks
from tuneline_app.cli import main

ROOT = Path(__file__).parents[2]
RECIPES = sorted((ROOT / "configs" / "stacks").glob("*.yaml"))
GPU_RECIPES = [r for r in RECIPES if r.stem != "local"]


def test_every_recipe_names_known_flavors_and_fields():
    assert {r.stem for r in RECIPES} >= {"local", "local-gpu", "kubernetes", "sagemaker", "vertex"}
    assert main(["stack", "check", *map(str, RECIPES)]) == 0
    for recipe in GPU_RECIPES:  # configs name the role `gpu`; each GPU stack provides it
        assert stacks.load(recipe)["components"]["step_operator"]["name"] == "gpu", recipe


@pytest.mark.parametrize("change, says", [
    (lambda r: r["components"]["orchestrator"].update(flavor="kubernets"),
     "unknown orchestrator flavor 'kubernets'"),
    (lambda r: r["components"]["step_operator"]["configuration"].update(gpu="0"),
     "unknown field(s) ['gpu']"),
    (lambda r: r["components"].pop("artifact_store"), "needs an artifact_store"),
    (lambda r: r.update(stack="x"), "unknown key(s) ['stack']"),
])
def test_recipe_mistakes_name_the_key_and_the_file(tmp_path, change, says):
    recipe = yaml.safe_load((ROOT / "configs/stacks/local-gpu.yaml").read_text())
    change(recipe)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(recipe))
    with pytest.raises(stacks.RecipeError) as e:
        stacks.check(path)
    assert says in str(e.value) and str(path) in str(e.value)


def test_no_gpu_is_a_clear_error_naming_the_step():
    with pytest.raises(RuntimeError, match="step 'sft' runs on the tuneline_local_gpu step "
                                           "operator but no GPU is visible"):
        gso.check_gpus("sft", None, [])
    with pytest.raises(RuntimeError, match=r"asks for GPU\(s\) 3 but this machine has 0,1"):
        gso.check_gpus("dpo", "1,3", ["0", "1"])
    assert gso.check_gpus("dpo", "1", ["0", "1"]) == "1"
    assert gso.subprocess_command(["python", "-m", "x"])[1:] == ["-m", "x"]


@pytest.fixture
def gpu_stack(tmp_path):
    """The local-gpu recipe registered and active, with the test-only CPU override."""
    from zenml.client import Client

    recipe = yaml.safe_load((ROOT / "configs/stacks/local-gpu.yaml").read_text())
    recipe["stack_name"] = "tuneline-gpu-on-cpu"
    recipe["components"]["step_operator"]["name"] = "gpu"
    recipe["components"]["step_operator"]["configuration"] = {"gpus": "0", "require_gpu": False}
    path = tmp_path / "gpu-on-cpu.yaml"
    path.write_text(yaml.safe_dump(recipe))
    before = Client().active_stack_model.name
    assert main(["stack", "register", str(path), "--activate"]) == 0
    yield Client().get_stack("tuneline-gpu-on-cpu")
    Client().activate_stack(before)


def test_gpu_steps_run_in_a_subprocess_with_the_configured_gpus(gpu_stack):
    from zenml.enums import StackComponentType

    from tests.pipelines.gpu_probe import probe_pipeline

    operator = gpu_stack.components[StackComponentType.STEP_OPERATOR][0]
    assert operator.flavor_name == gso.FLAVOR
    run = probe_pipeline()
    assert run.status.value == "completed"
    out = run.steps["probe"].outputs["output"][0].load()
    assert out["pid"] != os.getpid()  # ran in its own process
    assert out["cuda_visible_devices"] == "0"


def test_serve_deploys_on_the_active_stack_plus_a_deployer(gpu_stack):
    from zenml.client import Client
    from zenml.enums import StackComponentType as T

    from tuneline.zenml_ext import serving as serve

    ids = {t: c[0].id for t, c in gpu_stack.components.items()}
    assert T.DEPLOYER not in ids
    first = serve.serve_stack(Client())
    assert first.name == serve.SERVE_STACK
    assert {t: c[0].id for t, c in first.components.items() if t != T.DEPLOYER} == ids
    assert first.components[T.DEPLOYER][0].flavor_name == "local"
    assert serve.serve_stack(Client()).id == first.id  # kept, not registered again
    assert Client().active_stack_model.id == gpu_stack.id  # the user's stack stays active
    Client().activate_stack("default")  # zenml 0.98's default stack has a local deployer
    assert serve.serve_stack(Client()).name == "default"


def test_local_recipe_registers_a_cpu_stack():
    from zenml.client import Client

    assert main(["stack", "register", str(ROOT / "configs/stacks/local.yaml")]) == 0
    stack = Client().get_stack("tuneline-local")
    assert {c.value for c in stack.components} == {"orchestrator", "artifact_store"}


def test_production_config_sends_gpu_steps_to_the_gpu_operator_and_names_an_existing_dockerfile():
    from zenml.config import DockerSettings, ResourceSettings

    from tuneline_app.config_check import load, validate

    path = ROOT / "configs/production.yaml"
    assert validate(path) == "end_to_end"
    cfg = load(path)
    docker = DockerSettings(**cfg["settings"]["docker"])
    assert (ROOT / docker.dockerfile).exists()
    for name in ("sft", "dpo", "evaluate"):
        assert cfg["steps"][name]["step_operator"] == "gpu"
        assert ResourceSettings(**cfg["steps"][name]["settings"]["resources"]).gpu_count == 1


def test_dockerfile_installs_the_gpu_extra_and_copies_only_files_that_exist():
    # a text check: no Docker engine runs here, so the image itself is not built by the tests
    text = (ROOT / "Dockerfile").read_text()
    assert text.startswith("#") and "\nFROM nvidia/cuda:" in text
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert "gpu" in extras and "pip install '.[gpu]'" in text
    assert "pip install --no-deps unsloth==2026.10.9 unsloth_zoo==2026.10.9" in text
    for line in text.splitlines():  # everything it copies exists
        if line.startswith("COPY "):
            for src in line.split()[1:-1]:
                assert (ROOT / src).exists(), src
