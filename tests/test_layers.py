"""Arrows go app -> pipelines -> steps -> core, never back, never in a circle; ZenML is
imported by the steps, the pipelines, the dashboard launchers and one adapter package.

Read from the source, every form counted: `import a.b`, `from a import b`, relative imports,
imports inside functions (a loop no import graph shows at startup is still a loop), and module
names in strings (`importlib.import_module("...")`, `python -m tuneline.train.worker`)."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
PACKAGES = ("tuneline", "tuneline_app", "tuneline_steps", "tuneline_pipelines")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


FILES = {module_name(p): p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))}


def imported_names(path: Path, strings: bool = True) -> set[str]:
    """Every dotted name `path` imports or names as a module, relative imports resolved.
    `strings`: with project modules named in a string (a process started on them: a layer
    matter, not an import cycle)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[:len(parts) - node.level + 1] + ([base] if base else []))
            # `from pkg import mod` is mod's file, `from pkg import name` pkg's __init__: the
            # longest known prefix (project_targets) tells which
            out.update(f"{base}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) \
                and isinstance(node.args[0].value, str) and getattr(node.func, "attr", getattr(
                    node.func, "id", None)) in ("import_module", "__import__", "find_spec"):
            out.add(node.args[0].value)  # importlib.import_module("zenml.x"), whatever it names
        elif strings and isinstance(node, ast.Constant) and isinstance(node.value, str) \
                and "." in node.value and node.value in FILES:
            out.add(node.value)  # a project module run by name: ["python", "-m", "tuneline.x"]
    return out


def project_targets(names: set[str]) -> set[str]:
    """The project files `names` reach: `from pkg import mod` reaches mod's file, `from pkg
    import name` the package's __init__ (the longest known prefix of each name)."""
    out = set()
    for n in names:
        parts = n.split(".")
        for i in range(len(parts), 0, -1):
            if ".".join(parts[:i]) in FILES:
                out.add(".".join(parts[:i]))
                break
    return out


def reaches(names: set[str], forbidden: str) -> bool:
    return any(n == forbidden or n.startswith(forbidden + ".") for n in names)


GRAPH = {m: project_targets(imported_names(p, strings=False)) - {m} for m, p in FILES.items()}

RULES = [  # (modules under this prefix, except under this one, must not import these)
    ("tuneline", "tuneline.zenml_ext", ("zenml", "tuneline_steps", "tuneline_pipelines", "tuneline_app",
                                        "tuneline.zenml_ext")),
    ("tuneline.zenml_ext", None, ("tuneline_steps", "tuneline_pipelines", "tuneline_app")),
    ("tuneline_steps", None, ("tuneline_pipelines", "tuneline_app")),
    ("tuneline_pipelines", None, ("tuneline_app",)),
]


def under(module: str, prefix: str | None) -> bool:
    return prefix is not None and (module == prefix or module.startswith(prefix + "."))


@pytest.mark.parametrize("layer,skip,forbidden", RULES, ids=[r[0] for r in RULES])
def test_no_layer_imports_a_layer_above_it(layer, skip, forbidden):
    for module, path in FILES.items():
        if under(module, layer) and not under(module, skip):
            names = imported_names(path)
            bad = [f for f in forbidden if reaches(names, f)]
            assert not bad, f"{path.relative_to(ROOT)} imports {bad}"


def test_the_app_layer_reaches_zenml_only_through_the_adapter_and_its_launchers():
    for module, path in FILES.items():
        if under(module, "tuneline_app") and path.name != "launchers.py":  # the forms' own steps
            assert not reaches(imported_names(path), "zenml"), f"{path.relative_to(ROOT)} imports zenml"


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one file (Tarjan), each sorted."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_two_files_import_each_other_directly_or_round_a_circle():
    assert cycles(GRAPH) == []


def test_the_reader_sees_every_import_form_and_the_cycle_check_finds_a_circle(tmp_path):
    # the forms the older check missed, read from a file under a known package
    path = ROOT / "tuneline" / "train" / "_probe_example.py"
    source = ("import tuneline.zenml_ext.serving\nfrom . import common\nfrom ..llm import cache\n"
              "def f():\n    import importlib\n    importlib.import_module('zenml.client')\n"
              "CMD = ['python', '-m', 'tuneline.train.worker']\n")
    try:
        path.write_text(source)
        names = imported_names(path)
    finally:
        path.unlink()
    assert {"tuneline.zenml_ext.serving", "tuneline.train.common", "tuneline.llm.cache",
            "zenml.client", "tuneline.train.worker"} <= names
    assert reaches(names, "tuneline.zenml_ext") and reaches(names, "zenml")
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_the_wheel_adds_only_top_level_packages_named_for_tuneline():
    # what `pip install` puts in site-packages: no `steps` or `pipelines` another project's would
    # collide with (setuptools reads the same include list from pyproject.toml)
    import tomllib

    from setuptools import find_packages

    include = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]["include"]
    top = {p.split(".")[0] for p in find_packages(str(ROOT), include=include)}
    assert top == {"tuneline", "tuneline_app", "tuneline_steps", "tuneline_pipelines"}
