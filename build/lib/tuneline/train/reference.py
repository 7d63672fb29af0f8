"""DPO's reference forward without TRL's per-step walks over every module.

With a LoRA policy and no reference model, TRL 1.15 scores the reference each step inside two
context managers:

- `use_adapter(model, None)`, i.e. PEFT's `disable_adapter`: a status report over every layer,
  then a walk over every module flipping `requires_grad` off and back on: 57 ms of host time a
  step for a 32-layer model with 224 LoRA layers (measured on an H200 host, where a packed DPO
  step of the 8B shape is ~0.55 s); 1.8 ms here.
- `disable_gradient_checkpointing`: switches checkpointing off for every layer and back *on
  for every layer*, so a share of layers chosen by the checkpointing policy
  (`checkpointing.callback`) became all layers after the first step of a trl-backend run.
  Unsloth replaces it with a no-op, so its reference forward (no gradients) ran every layer
  through its checkpoint function.

`reference_forward` rebinds both where TRL's DPO code looks them up, while the trainer's own
calls run (`setup`), with versions that flip the same per-layer flags on a cached list of
layers and restore exactly what was there; anything they do not cover (a named adapter,
prompt learning, modules_to_save) goes to TRL's own.

Handed a model that already is a PeftModel (the Unsloth backend's), TRL adds a "ref" copy of
its adapter and scores the reference with it: `set_adapter("ref")` and back walk every module
(~28 ms a step for the 8B shape's module tree on a development machine's CPU; in the profile
of a packed 8B DPO step on the H200, two GPU-idle stretches), and the reference forward runs
all 224 LoRA layers' kernels for an adapter that adds nothing. `drop_untrained_copy` removes that
copy when it is a fresh LoRA's (every B zero), so the reference is the adapter switched off:
the same model, exactly.
"""

from __future__ import annotations

import contextlib
import re
import sys
import weakref

from tuneline import patches
from tuneline.train import checkpointing
from tuneline.train.scoping import during_calls, rebound

_LAYERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _cached(model, what: str, find):
    entry = _LAYERS.setdefault(model, {})
    if what not in entry:
        entry[what] = find(model)
    return entry[what]


def lora_layers(model) -> list | None:
    """The LoRA layers whose `_disable_adapters` flag is all that switching the adapter off
    changes in their forward (PEFT's and Unsloth's kernels read it); None when the model has
    more than that (prompt learning, modules_to_save wrappers) or is no PeftModel."""
    from peft import PeftModel
    from peft.tuners.tuners_utils import BaseTunerLayer
    from peft.utils.other import AuxiliaryTrainingWrapper

    if not isinstance(model, PeftModel) or model.active_peft_config.is_prompt_learning:
        return None
    patches.check("peft-adapter-flag")  # adapters_off sets the layers' own _disable_adapters
    modules = list(model.modules())
    if any(isinstance(m, AuxiliaryTrainingWrapper) for m in modules):
        return None
    return [m for m in modules if isinstance(m, BaseTunerLayer)]


@contextlib.contextmanager
def _set_all(objects: list, name: str, value):
    """`name` set to `value` on every object, then back to what each had."""
    before = [getattr(o, name) for o in objects]
    for o in objects:
        setattr(o, name, value)
    try:
        yield
    finally:
        for o, was in zip(objects, before):
            setattr(o, name, was)


def adapters_off(model):
    """Every LoRA layer of `model` runs as its base layer, then back as it was."""
    return _set_all(_cached(model, "lora", lora_layers), "_disable_adapters", True)


def checkpointing_off(model):
    """No decoder layer checkpoints (the reference forward runs without gradients), then each
    back to its own setting."""
    return _set_all(_cached(model, "decoder", checkpointing.decoder_layers),
                    "gradient_checkpointing", False)


_REF_FACTOR = re.compile(r"\.lora_(embedding_)?(A|B)\.ref(\.weight)?$")


def drop_untrained_copy(model) -> bool:
    """Delete TRL's "ref" adapter from `model` when the reference it gives is the base model
    exactly: a plain LoRA (no DoRA, no trainable bias) whose every B matrix is zero, so each
    layer's update B @ A is zero. Returns whether it did."""
    config = getattr(model, "peft_config", {}).get("ref")
    if config is None or getattr(config, "peft_type", None) != "LORA" or config.use_dora:
        return False
    factors = {n: (_REF_FACTOR.search(n), p) for n, p in model.named_parameters()
               if ".ref." in n or n.endswith(".ref")}
    if not factors or not all(found for found, _ in factors.values()):
        return False  # something besides the two LoRA factors (DoRA, lora_bias, ...)
    if any(bool(p.any()) for found, p in factors.values() if found.group(2) == "B"):
        return False  # a trained copy: the reference is that adapter, keep it
    model.delete_adapter("ref")
    _LAYERS.pop(model, None)  # layer lists found with the copy in place
    return True


def _reference_targets() -> list:
    """`use_adapter` and `disable_gradient_checkpointing` in the loaded DPO trainer modules
    (TRL's, and Unsloth's rewrite of it when loaded), each with the version here."""
    import trl.trainer.dpo_trainer as dpo

    patches.check("trl-dpo-reference")
    trl_use_adapter = dpo.use_adapter
    trl_disable_checkpointing = dpo.disable_gradient_checkpointing

    def use_adapter(model, adapter_name):
        if adapter_name is None and _cached(model, "lora", lora_layers) is not None:
            return adapters_off(model)
        return trl_use_adapter(model, adapter_name)

    def disable_gradient_checkpointing(model, gradient_checkpointing_kwargs=None):
        return checkpointing_off(model)

    targets = []
    for name, module in list(sys.modules.items()):
        namespace = getattr(module, "__dict__", None)
        if "dpo" not in name.lower() or not isinstance(namespace, dict):
            continue
        if namespace.get("use_adapter") is trl_use_adapter:
            targets.append((module, "use_adapter", use_adapter))
        if namespace.get("disable_gradient_checkpointing") is trl_disable_checkpointing:
            targets.append((module, "disable_gradient_checkpointing", disable_gradient_checkpointing))
    return targets


# in effect during a DPO trainer's own calls only (`setup`)
reference_forward = rebound(_reference_targets)


def setup(trainer) -> None:
    """A DPOTrainer's reference forward the fast way: the contexts above in effect while the
    trainer's own calls run (the modules are found then: TRL's, and Unsloth's rewrite of it
    once loaded) and TRL's untrained "ref" copy dropped."""
    during_calls(trainer, reference_forward)
    drop_untrained_copy(trainer.model)
