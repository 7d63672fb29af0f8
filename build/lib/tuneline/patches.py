"""The places where tuneline changes another library's internals, and the versions each was
written for.

A patch of a private function breaks silently when the library changes it. Each one here is
checked against the versions it was written (and tested) for when it is applied, and fails
with a message naming the patch, the version found and what to do; docs/development.md has
the table of them and why each exists (tests/test_patches.py keeps the two in step).
`TUNELINE_UNCHECKED_PATCHES=1` applies them on other versions with a warning instead (for
trying an upgrade, not for production runs).
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
from typing import NamedTuple

log = logging.getLogger(__name__)
UNCHECKED_ENV = "TUNELINE_UNCHECKED_PATCHES"


class Patch(NamedTuple):
    package: str  # the distribution whose internals it touches
    versions: str  # a PEP 440 specifier: the versions it was written and tested for
    where: str  # the tuneline function that applies it
    scope: str  # "call" (undone after the call that needs it) or "process"


PATCHES: dict[str, Patch] = {
    "trl-cpu-loss-kernel": Patch("trl", "==1.15.*", "tuneline.train.trl_compat.loss_kernel",
                                 "trainer calls"),
    "torch-cpu-device-index": Patch("torch", ">=2.11,<2.15",
                                    "tuneline.train.trl_compat.accept_cpu_device_index", "process"),
    "trl-dpo-reference": Patch("trl", "==1.15.*", "tuneline.train.reference.reference_forward",
                               "trainer calls"),
    "unsloth-flex-attention": Patch("unsloth", "==2026.10.9",
                                    "tuneline.train.unsloth_packing.install_unsloth_flex", "process"),
    "unsloth-packed-rows": Patch("unsloth", "==2026.10.9",
                                 "tuneline.train.unsloth_packing._route_packed_rows", "process"),
    "peft-adapter-flag": Patch("peft", ">=0.21,<0.22", "tuneline.train.reference.lora_layers", "call"),
    "torch-dynamic-marks": Patch("torch", ">=2.11,<2.15", "tuneline.train.packed_masks._dynamic_sizes",
                                 "call"),
    "padding-free-decoder": Patch("transformers", ">=5.2,<=5.17",
                                  "tuneline.train.packing.padding_free_backbone", "model"),
    "trainer-private-calls": Patch("transformers", ">=5.2,<=5.17",
                                   "tuneline.train.checkpointing.measure", "call"),
    "hub-offline-flag": Patch("huggingface_hub", ">=1.0,<2", "tuneline.ship.hub.upload", "call"),
    "zenml-step-cleanup": Patch("zenml", "==0.98.0", "tuneline_steps._common.step_folder", "call"),
    "llama-cpp-token-text": Patch("llama_cpp_python", "==0.3.36", "tuneline.ship.gguf_probe.run",
                                  "call"),
}


class PatchVersionError(RuntimeError):
    pass


_PASSED: set[str] = set()  # checked once per process: some are checked on every training step


def installed(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def check(name: str) -> None:
    """Refuse to apply patch `name` on a version of its library it was not written for."""
    from packaging.specifiers import SpecifierSet
    from packaging.version import Version

    if name in _PASSED:
        return
    patch = PATCHES[name]
    found = installed(patch.package)
    if found is None:
        return  # the library is absent: the code that imports it fails with its own error
    if Version(Version(found).base_version) in SpecifierSet(patch.versions):  # 2.13.0+cpu: 2.13.0
        _PASSED.add(name)
        return
    message = (f"{patch.where} changes internals of {patch.package} (patch {name!r}), written for "
               f"{patch.package}{patch.versions}; {found} is installed. Install a version it was "
               f"written for (pyproject.toml pins them), or set {UNCHECKED_ENV}=1 to try it on "
               "this one (the table in docs/development.md says what it changes and why)")
    if os.environ.get(UNCHECKED_ENV) == "1":
        log.warning("%s", message)
        return
    raise PatchVersionError(message)
