"""Changes to other libraries' internals: each checked against the versions it was written
for, listed in docs/development.md, and the TRL ones in effect only while a trainer's own
calls run."""

import types
from pathlib import Path

import pytest

from tuneline import patches
from tuneline.train.scoping import during_calls, rebound

ROOT = Path(__file__).parents[1]


def test_every_patch_is_in_the_docs_table_and_fits_the_installed_versions():
    doc = (ROOT / "docs" / "development.md").read_text()
    for name, patch in patches.PATCHES.items():
        assert f"| `{name}` |" in doc, f"{name} is not in the table in docs/development.md"
        assert f"`{patch.where}`" in doc, patch.where
        patches.check(name)  # pyproject's pins satisfy every patch (absent libraries pass)


def test_a_patch_refuses_a_library_version_it_was_not_written_for(monkeypatch, caplog):
    monkeypatch.setattr(patches, "installed", lambda package: "1.16.0")
    monkeypatch.setattr(patches, "_PASSED", set())
    monkeypatch.delenv(patches.UNCHECKED_ENV, raising=False)
    with pytest.raises(patches.PatchVersionError) as e:
        patches.check("trl-dpo-reference")
    message = str(e.value)
    assert "tuneline.train.reference.reference_forward" in message and "trl==1.15.*" in message
    assert "1.16.0 is installed" in message and patches.UNCHECKED_ENV in message
    monkeypatch.setenv(patches.UNCHECKED_ENV, "1")  # trying an upgrade: a warning, not an error
    patches.check("trl-dpo-reference")
    assert "1.16.0 is installed" in caplog.text


def test_a_rebound_name_is_set_once_for_nested_calls_and_restored_after():
    lib = types.ModuleType("lib")
    lib.f = "original"
    patch = rebound(lambda: [(lib, "f", "ours")])

    class Trainer:
        def train(self):
            seen.append(lib.f)
            return self.compute_loss()

        def compute_loss(self):
            seen.append(lib.f)
            return "loss"

    seen = []
    trainer, other = Trainer(), Trainer()
    during_calls(trainer, patch)
    assert trainer.train() == "loss" and seen == ["ours", "ours"] and lib.f == "original"
    seen.clear()
    other.train()  # another trainer of the same class: the class itself was not changed
    assert seen == ["original", "original"]
    with pytest.raises(ZeroDivisionError):  # restored when the call raises too
        with patch():
            assert lib.f == "ours"
            1 / 0
    assert lib.f == "original"


@pytest.mark.slow  # trains a model
def test_trl_is_its_own_outside_a_dpo_trainers_calls_and_patched_inside(tmp_path):
    import trl.trainer.dpo_trainer as dpo
    from transformers import TrainerCallback
    from trl.trainer import utils as trl_utils

    from tests import tiny
    from tests.test_packing import fresh_adapter, pref_rows
    from tuneline.params import DPOParams
    from tuneline.train import common, trl_backend
    from tuneline.train.trl_compat import TorchChunkedLogProb

    trls = (dpo.use_adapter, dpo.disable_gradient_checkpointing, trl_utils._ChunkedLogProbFunction)
    params = DPOParams(max_steps=1, batch_size=2, max_length=128, checkpoint_every=0)
    trainer, tracking, attention = trl_backend.dpo_trainer(
        tiny.path(), fresh_adapter(tiny.path(), tmp_path / "sft"), pref_rows(2), params,
        tmp_path / "work")
    assert (dpo.use_adapter, dpo.disable_gradient_checkpointing,
            trl_utils._ChunkedLogProbFunction) == trls  # built, not yet training
    inside = []

    class Look(TrainerCallback):
        def on_step_end(self, args, state, control, **kw):
            inside.append((dpo.use_adapter is trls[0], dpo.disable_gradient_checkpointing is trls[1],
                           trl_utils._ChunkedLogProbFunction))

    trainer.add_callback(Look())
    common.train_and_save(trainer, params, tmp_path / "work", tmp_path / "out", 2, tracking, attention)
    kernel = TorchChunkedLogProb if trls[2] is None else trls[2]  # plain torch only without Triton
    assert inside == [(False, False, kernel)]
    assert (dpo.use_adapter, dpo.disable_gradient_checkpointing,
            trl_utils._ChunkedLogProbFunction) == trls
