"""A step's cache key covers the core modules it runs, found by following imports."""

import json
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
import hashlib, json, sys
from pathlib import Path
from zenml.utils import source_code_utils, source_utils
from tuneline_steps.train import sft


def key():
    deps = sorted(s.import_path for s in sft.configuration.cache_policy.source_dependencies)
    h = hashlib.sha256()
    for path in deps:  # what ZenML's cache key adds for CachePolicy.source_dependencies
        h.update(path.encode())
        h.update(source_code_utils.get_source_code(source_utils.load(path)).encode())
    return h.hexdigest(), deps


before, deps = key()
worker = Path("tuneline/train/worker.py")  # in the temporary copy: the cwd
worker.write_text(worker.read_text() + "\\n# a change to the worker\\nCHANGED = True\\n")
after, _ = key()  # ZenML reads each module's source from its file (inspect re-checks the file)
print(json.dumps({"before": before, "after": after, "deps": deps}))
"""


def test_a_change_to_the_worker_that_sft_launches_with_python_m_misses_the_step_cache(tmp_path):
    # a temporary copy of the code: the worker is run as `python -m tuneline.train.worker`,
    # never imported, and its change must still change the SFT step's cache key
    for pkg in ("tuneline", "tuneline_steps"):
        shutil.copytree(ROOT / pkg, tmp_path / pkg, ignore=shutil.ignore_patterns("__pycache__"))
    script = tmp_path / "code_key.py"  # a main module with a file: ZenML's source root is its folder
    script.write_text(_CODE_KEY)
    proc = subprocess.run([sys.executable, str(script)], cwd=tmp_path, text=True, capture_output=True,
                          env={**os.environ, "PYTHONPATH": str(tmp_path)}, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert "tuneline.train.worker" in out["deps"] and "tuneline.train.node" not in out["deps"]
    assert out["after"] != out["before"]


def test_module_names_in_strings_count_and_other_strings_do_not():
    names = set(source_closure("tuneline.train.distributed"))
    assert "tuneline.train.worker" in names  # ["-m", "tuneline.train.worker"]
    assert "tuneline.ship.gguf_probe" in source_closure("tuneline.ship.gguf")  # [sys.executable, "-m", ...]
    assert not any(n.startswith("tuneline_app") for n in names)
