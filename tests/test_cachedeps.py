"""A step's cache key covers the core modules it runs, found by following imports."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tuneline.cachedeps import source_closure

ROOT = Path(__file__).parents[1]


def test_the_closure_follows_imports_at_module_top_and_inside_functions():
    grounding = source_closure("tuneline.curation.grounding")
    # grounding -> dedup -> minhash, text, params, records
    assert {"tuneline.curation.grounding", "tuneline.curation.dedup", "tuneline.curation.minhash", "tuneline.text",
            "tuneline.params", "tuneline.records"} <= set(grounding)
    # backends are imported where they are chosen, inside functions: both are covered
    assert {"tuneline.train.trl_backend", "tuneline.train.unsloth_backend",
            "tuneline.train.common"} <= set(source_closure("tuneline.train"))
    assert {"tuneline.llm.openai_backend", "tuneline.llm.transformers_backend",
            "tuneline.llm.cache"} <= set(source_closure("tuneline.llm"))


def test_the_closure_stays_in_the_core_and_accepts_modules():
    import tuneline.curation.judge

    names = source_closure(tuneline.curation.judge)
    assert names == sorted(names) and "tuneline.curation.judge" in names
    assert all(n == "tuneline" or n.startswith("tuneline.") for n in names)
    assert not any(n.startswith("tuneline.zenml_ext") for n in names)


_CODE_KEY = """
import hashlib, sys
from zenml.utils import source_code_utils, source_utils
from tuneline_steps.train import sft
deps = sorted(s.import_path for s in sft.configuration.cache_policy.source_dependencies)
h = hashlib.sha256()
for path in deps:  # what ZenML's cache key adds for CachePolicy.source_dependencies
    h.update(path.encode())
    h.update(source_code_utils.get_source_code(source_utils.load(path)).encode())
print(h.hexdigest(), ",".join(deps))
"""


def _sft_code_key(root: Path) -> tuple[str, list[str]]:
    env = {**os.environ, "PYTHONPATH": str(root)}
    script = root / "code_key.py"  # a main module with a file: ZenML's source root is its folder
    script.write_text(_CODE_KEY)
    proc = subprocess.run([sys.executable, str(script)], cwd=root, env=env, text=True,
                          capture_output=True, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout.split()
    return out[0], out[1].split(",")


def test_a_change_to_the_worker_that_sft_launches_with_python_m_misses_the_step_cache(tmp_path):
    # a temporary copy of the code: the worker is run as `python -m tuneline.train.worker`,
    # never imported, and its change must still change the SFT step's cache key
    for pkg in ("tuneline", "tuneline_steps"):
        shutil.copytree(ROOT / pkg, tmp_path / pkg, ignore=shutil.ignore_patterns("__pycache__"))
    before, deps = _sft_code_key(tmp_path)
    assert "tuneline.train.worker" in deps and "tuneline.train.node" not in deps
    worker = tmp_path / "tuneline" / "train" / "worker.py"
    worker.write_text(worker.read_text() + "\n# a change to the worker\nCHANGED = True\n")
    after, _ = _sft_code_key(tmp_path)
    assert after != before


def test_module_names_in_strings_count_and_other_strings_do_not():
    names = set(source_closure("tuneline.train.distributed"))
    assert "tuneline.train.worker" in names  # ["-m", "tuneline.train.worker"]
    assert "tuneline.ship.gguf_probe" in source_closure("tuneline.ship.gguf")  # [sys.executable, "-m", ...]
    assert not any(n.startswith("tuneline_app") for n in names)
