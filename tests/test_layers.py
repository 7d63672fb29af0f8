"""Arrows go app -> pipelines -> steps -> core, never back; ZenML is imported by the steps,
the pipelines, the dashboard launchers and one adapter package. Read from the source (imports
inside functions count too), so a loop no import graph shows at startup is still caught."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]


def imports(path: Path) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            out.add(node.module.split(".")[0])
            if node.module == "tuneline":  # `from tuneline import zenml_ext`
                out.update(f"tuneline.{a.name}" for a in node.names)
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("tuneline.zenml_ext"):
            out.add("tuneline.zenml_ext")
    return out


def files(folder: str, skip: str | None = None) -> list[Path]:
    return [p for p in sorted((ROOT / folder).rglob("*.py")) if not (skip and skip in p.parts)]


RULES = [
    ("tuneline", "zenml_ext", {"zenml", "steps", "pipelines", "tuneline_app", "tuneline.zenml_ext"}),
    ("tuneline/zenml_ext", None, {"steps", "pipelines", "tuneline_app"}),
    ("steps", None, {"pipelines", "tuneline_app"}),
    ("pipelines", None, {"tuneline_app"}),
]


@pytest.mark.parametrize("folder,skip,forbidden", RULES, ids=[r[0] for r in RULES])
def test_no_layer_imports_a_layer_above_it(folder, skip, forbidden):
    for path in files(folder, skip):
        bad = imports(path) & forbidden
        assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"


def test_the_app_layer_reaches_zenml_only_through_the_adapter_and_its_launchers():
    for path in files("tuneline_app"):
        if path.name != "launchers.py":  # the forms' own steps and pipelines
            assert "zenml" not in imports(path), f"{path.relative_to(ROOT)} imports zenml"
