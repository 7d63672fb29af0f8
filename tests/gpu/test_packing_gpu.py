"""Padding-free packing on CUDA with FlexAttention, on the Unsloth and the TRL + PEFT backend:
a packed batch has the loss of its examples run one by one, attention runs once per layer,
packed DPO has the loss of the padded batch; the checkpointing policy keeps a run inside the
memory budget it is given. (The CPU twins, with SDPA, are tests/test_packing.py.)"""

import pytest

from tests.gpu.test_unsloth_gpu import prefs, rows
from tests.test_packing import (
    dpo_gradient_gap,
    dpo_padded_and_packed,
    fresh_adapter,
    packed_and_one_by_one,
    summed_loss,
)

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
BACKENDS = ["unsloth", "trl"]
# bf16: one forward of the same tokens in another layout agrees to bf16 rounding
REL = 1e-2


@pytest.fixture
def flex_calls(monkeypatch):
    """Counts FlexAttention calls (both backends' packed rows go through one function)."""
    from tuneline.train import packed_masks, packing, unsloth_packing

    calls = []
    route = packed_masks.flex_packed_attention
    for module in (packing, unsloth_packing):  # each calls it by the name it imported
        monkeypatch.setattr(module, "flex_packed_attention",
                            lambda *a, **k: calls.append(1) or route(*a, **k))
    return calls


@pytest.fixture
def packed_rows(monkeypatch):
    """Every PackedRow the decoder hands its layers (DPO rows with shared prompts)."""
    from tuneline.train import packing

    rows = []

    class Recorded(packing.PackedRow):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            rows.append(self)

    monkeypatch.setattr(packing, "PackedRow", Recorded)
    return rows


@pytest.mark.parametrize("backend", BACKENDS)
def test_packed_sft_batch_has_the_loss_of_its_examples_with_one_flex_call_per_layer(
        tiny_llama, tmp_path, backend, flex_calls):
    from tuneline import train
    from tuneline.params import SFTParams

    params = SFTParams(backend=backend, packing=True, batch_size=4, max_length=512, max_steps=1)
    trainer, _, attention = train._backend(params).sft_trainer(tiny_llama, rows(24), params, tmp_path)
    assert "flex_attention" in attention
    packed, alone, crossed, examples = packed_and_one_by_one(trainer)
    assert examples >= 8
    assert packed == pytest.approx(alone, rel=REL)
    assert abs(crossed - alone) > 3 * abs(packed - alone)
    # one forward of the packed row: one attention call per layer, whatever its examples
    batch = trainer._prepare_inputs(next(iter(trainer.get_train_dataloader())))
    flex_calls.clear()
    summed_loss(trainer.model, batch["input_ids"], batch["labels"], batch["position_ids"])
    assert len(flex_calls) == trainer.model.config.num_hidden_layers


def conversations(n: int) -> list[dict]:
    """Three-turn conversations with a system prompt, as SFT rows (the loss on every
    assistant turn: tuneline tokenizes them, tuneline/train/formats.py)."""
    from tuneline.records import Pair
    from tuneline.train import formats

    base = rows(3 * n)
    pairs = []
    for i in range(n):
        turns = [(r["prompt"][0]["content"], r["completion"][0]["content"])
                 for r in base[3 * i:3 * i + 3]]
        pairs.append(Pair(f"c{i}", "", "gpu", *turns[-1], system="Answer briefly.",
                          history=tuple(turns[:-1])))
    return formats.sft_rows(pairs)


@pytest.mark.parametrize("backend", BACKENDS)
def test_packed_conversations_train_on_their_assistant_turns_with_the_loss_of_each_alone(
        tiny_llama, tmp_path, backend):
    from transformers import AutoTokenizer

    from tuneline import train
    from tuneline.params import SFTParams
    from tuneline.train import formats

    data = conversations(8)
    params = SFTParams(backend=backend, packing=True, batch_size=4, max_length=1024, max_steps=1)
    trainer, _, attention = train._backend(params).sft_trainer(tiny_llama, data, params, tmp_path)
    batch = trainer._prepare_inputs(next(iter(trainer.get_train_dataloader())))
    ids, labels = batch["input_ids"][0].tolist(), batch["labels"][0].tolist()
    starts = [i for i, p in enumerate(batch["position_ids"][0].tolist()) if p == 0] + [len(ids)]
    tok = AutoTokenizer.from_pretrained(tiny_llama)
    alone = {}
    for r in data:
        seq, mask = formats.conversation_tokens(tok, r["messages"])
        alone[tuple(seq)] = [t if m else -100 for t, m in zip(seq, mask)]
    assert len(starts) - 1 >= 4  # packed rows of whole conversations, every one found below
    for a, b in zip(starts, starts[1:]):  # labels: exactly the assistant tokens of each turn
        assert labels[a + 1:b] == alone[tuple(ids[a:b])][1:]
    packed, one_by_one, crossed, examples = packed_and_one_by_one(trainer)
    assert packed == pytest.approx(one_by_one, rel=REL)
    assert abs(crossed - one_by_one) > 3 * abs(packed - one_by_one)


@pytest.mark.parametrize("backend", BACKENDS)
def test_packed_dpo_runs_each_prompt_once_with_the_loss_of_the_padded_batch_on_gpu(
        tiny_llama, tmp_path, backend, flex_calls, packed_rows):
    from tuneline import train
    from tuneline.params import DPOParams

    params = DPOParams(backend=backend, packing=True, batch_size=4, max_length=512, max_steps=1)
    adapter = fresh_adapter(tiny_llama, tmp_path / "sft")
    trainer, _, _ = train._backend(params).dpo_trainer(tiny_llama, adapter, prefs(8), params,
                                                       tmp_path / "work")
    # the reference is the adapter switched off, not TRL's copy of a fresh adapter (Unsloth)
    assert "ref" not in trainer.model.peft_config
    padded, packed, seen, unshared = dpo_padded_and_packed(trainer)
    # policy and reference forward: one row each, the rejected answers branching off the
    # prompts they share with the chosen ones; one FlexAttention call per layer and forward
    assert len(seen) == 2 and all(shape == (1, unshared) for shape in seen), (seen, unshared)
    assert len(flex_calls) == 2 * trainer.model.config.num_hidden_layers
    assert packed == pytest.approx(padded, rel=REL)
    assert dpo_gradient_gap(trainer) < 3 * REL
    assert packed_rows and all(row.read for row in packed_rows)
    if backend == "unsloth" and unsloth_compiles_blocks():
        # every layer read its packed row inside Unsloth's compiled blocks (a read outside a
        # compiled region counts in eager_reads), with and without gradients: Unsloth runs a
        # layer whose row carries packed lengths or its own prefix table as the stock forward
        assert [row.eager_reads for row in packed_rows] == [0] * len(packed_rows)


def unsloth_compiles_blocks() -> bool:
    """Whether Unsloth compiles each decoder layer here (torch >= 2.11, not switched off)."""
    import os

    from unsloth.kernels.fast_lora import TRACE_LORA_FUNCTIONS

    return TRACE_LORA_FUNCTIONS and os.environ.get("UNSLOTH_BLOCK_COMPILE", "1") != "0" \
        and os.environ.get("UNSLOTH_COMPILE_DISABLE", "0") not in ("1", "partial")


@pytest.mark.parametrize("backend", BACKENDS)
def test_auto_checkpointing_fits_a_budget_between_all_and_none(wide_llama, tmp_path, backend):
    from tuneline import train
    from tuneline.params import SFTParams

    run = dict(backend=backend, packing=True, batch_size=4, max_length=2048, max_steps=3,
               checkpoint_every=0, learning_rate=1e-4)
    long_rows = [dict(r, completion=[{"role": "assistant", "content": r["completion"][0]["content"] * 30}])
                 for r in rows(24)]
    peak = {}
    for policy in ("on", "off"):
        m = train.train_sft(wide_llama, long_rows, SFTParams(**run, gradient_checkpointing=policy),
                            tmp_path / policy)
        peak[policy] = m["peak_memory_gib"]
    assert peak["off"] > peak["on"], peak
    budget = (peak["on"] + peak["off"]) / 2
    m = train.train_sft(wide_llama, long_rows, SFTParams(**run, gradient_checkpointing="auto",
                                                         max_memory_gib=budget), tmp_path / "auto")
    chosen = m["gradient_checkpointing"]
    assert 0 < chosen["checkpointed_layers"] < chosen["layers"], (chosen, peak)
    assert chosen["predicted_peak_gib"] <= budget
    assert m["peak_memory_gib"] <= budget * 1.05, (m["peak_memory_gib"], chosen, peak)
