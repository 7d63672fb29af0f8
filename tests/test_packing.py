"""Padding-free packing keeps examples apart, and the checkpointing policy, on CPU (TRL + PEFT,
SDPA: torch has no FlexAttention backward on CPU): trainers on the tiny random model of the
bundled model's architecture (tests/tiny.py; a packed batch's loss equals its examples' for any
weights), forwards compared logit by logit on the bundled SmolLM2 itself. The same checks run
on CUDA with FlexAttention, on both backends, in tests/gpu/test_packing_gpu.py."""

from pathlib import Path

import pytest

from tests import tiny
from tuneline import train
from tuneline.params import DPOParams, SFTParams
from tuneline.train import checkpointing, packed_masks, packing

BASE = "bundled:smollm2-135m-instruct"


def sft_rows(n: int) -> list[dict]:
    return [{"prompt": [{"role": "user", "content": f"What does flag -{chr(97 + i)} of tar do?"}],
             "completion": [{"role": "assistant", "content": " ".join(
                 f"It sets option {i} for the archive, step {j}." for j in range(1 + i % 4))}]}
            for i in range(n)]


def pref_rows(n: int) -> list[dict]:
    return [{"prompt": r["prompt"], "chosen": r["completion"],
             "rejected": [{"role": "assistant", "content": "No idea." * (1 + i % 3)}]}
            for i, r in enumerate(sft_rows(n))]


def summed_loss(model, ids, labels, positions=None) -> float:
    """The model's own training loss (a mean over predicted tokens) times their number."""
    import torch

    with torch.no_grad():
        out = model(input_ids=ids, labels=labels, position_ids=positions, use_cache=False)
    return float(out.loss) * int((labels[..., 1:] != -100).sum())


def packed_and_one_by_one(trainer) -> tuple[float, float, float, int]:
    """The summed loss of the trainer's first packed batch; of its examples run one by one;
    of the same row with attention across examples (positions not restarting); its examples."""
    batch = trainer._prepare_inputs(next(iter(trainer.get_train_dataloader())))
    ids, labels, pos = batch["input_ids"], batch["labels"], batch["position_ids"]
    assert ids.shape[0] == 1, "a padding-free batch is one row"
    # no token is predicted from the example before it
    labels = labels.masked_fill(pos == 0, -100)
    model = trainer.model.to(trainer.args.device)  # the Trainer places it when training starts
    model.train()  # the training forward (dropout is 0); Unsloth's eval forward is another path
    packed = summed_loss(model, ids, labels, pos)
    starts = (pos[0] == 0).nonzero().flatten().tolist() + [ids.shape[1]]
    alone = sum(summed_loss(model, ids[:, a:b], labels[:, a:b]) for a, b in zip(starts, starts[1:]))
    crossed = summed_loss(model, ids, labels)
    return packed, alone, crossed, len(starts) - 1


def shared_prefix(a: list[int], b: list[int]) -> int:
    """How many leading tokens two sequences share."""
    return next((k for k, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))


def dpo_padded_and_packed(trainer) -> tuple[float, float, list[tuple[int, int]], int]:
    """DPO's loss on the trainer's first batch padded (the decoder's own forward), then as the
    trainer runs it (packed); the (rows, tokens) the decoder's first layer saw in each packed
    forward; the tokens of the batch's chosen and rejected rows less their shared prefixes."""
    import torch

    batch = trainer._prepare_inputs(next(iter(trainer.get_train_dataloader())))
    trainer.model.to(trainer.args.device).train()
    decoder = packing.backbone(trainer.model)
    packed_forward = decoder.forward
    with torch.no_grad():
        decoder.forward = packed_forward.__wrapped__
        padded = float(trainer.compute_loss(trainer.model, batch))
        decoder.forward = packed_forward
        seen = []
        layer = checkpointing.decoder_layers(trainer.model)[0]
        hook = layer.register_forward_pre_hook(lambda m, args: seen.append(tuple(args[0].shape[:2])))
        packed = float(trainer.compute_loss(trainer.model, batch))
        hook.remove()
    rows = [r[m.bool()].tolist() for r, m in zip(batch["input_ids"], batch["attention_mask"])]
    half = len(rows) // 2
    shared = [shared_prefix(c, r) for c, r in zip(rows[:half], rows[half:])]
    return padded, packed, seen, sum(map(len, rows)) - sum(shared)


def dpo_gradient_gap(trainer) -> float:
    """|g_packed - g_padded| / |g_padded| over the trainable parameters, for DPO's loss on the
    trainer's first batch (the shared prompt tokens' gradient is the sum of both rows')."""
    import torch

    batch = trainer._prepare_inputs(next(iter(trainer.get_train_dataloader())))
    model = trainer.model.to(trainer.args.device).train()
    decoder = packing.backbone(model)
    packed_forward = decoder.forward
    params = [p for p in model.parameters() if p.requires_grad]
    grads = []
    for forward in (packed_forward.__wrapped__, packed_forward):
        decoder.forward = forward
        model.zero_grad()
        trainer.compute_loss(model, batch).backward()
        grads.append(torch.cat([p.grad.float().flatten() for p in params]))
    decoder.forward = packed_forward
    model.zero_grad()
    return float((grads[1] - grads[0]).norm() / grads[0].norm())


def fresh_adapter(base: str, out: Path) -> Path:
    """An untrained LoRA (B = 0: merging it changes nothing) standing in for an SFT adapter."""
    from peft import LoraConfig, get_peft_model

    from tuneline.train import trl_backend

    model, _ = trl_backend.load_model(base)
    get_peft_model(model, LoraConfig(r=4, target_modules="all-linear")).save_pretrained(out)
    return out


@pytest.mark.slow  # trains a model
def test_a_packed_sft_batch_has_the_loss_of_its_examples_run_one_by_one(tmp_path):
    params = SFTParams(backend="trl", packing=True, batch_size=4, max_length=128, max_steps=1)
    trainer, _, attention = train._backend(params).sft_trainer(tiny.path(), sft_rows(8), params,
                                                               tmp_path)
    packed, alone, crossed, examples = packed_and_one_by_one(trainer)
    assert attention == packing.FLEX and examples >= 4
    assert packed == pytest.approx(alone, rel=1e-6)  # float32 sums in another order (~1e-8)
    # the check has teeth: the same row attending across examples scores differently (the tiny
    # model's near-uniform predictions move ~1e-3 of the loss; the bundled model's ~1e-2)
    assert abs(crossed - alone) > 100 * 1e-6 * alone


@pytest.mark.slow  # trains a model
def test_packed_dpo_runs_each_prompt_once_with_the_loss_of_the_padded_batch(tmp_path):
    params = DPOParams(backend="trl", packing=True, batch_size=4, max_length=128, max_steps=1)
    adapter = fresh_adapter(tiny.path(), tmp_path / "sft")
    trainer, _, attention = train._backend(params).dpo_trainer(tiny.path(), adapter, pref_rows(8),
                                                               params, tmp_path / "work")
    padded, packed, seen, unshared = dpo_padded_and_packed(trainer)
    # policy and reference forwards, each one row: the 4 chosen sequences and what the rejected
    # ones add to the prompt they share with them
    assert attention == packing.FLEX and len(seen) == 2
    assert all(shape == (1, unshared) for shape in seen), (seen, unshared)
    assert packed == pytest.approx(padded, rel=1e-4, abs=1e-5)
    assert dpo_gradient_gap(trainer) < 1e-4


@pytest.mark.slow  # trains a model
def test_packed_dpo_without_flex_attention_packs_every_row_whole(tmp_path):
    # "native": transformers' SDPA mask knows documents, not branches
    params = DPOParams(backend="trl", packing=True, packed_attention="native", batch_size=4,
                       max_length=128, max_steps=1)
    adapter = fresh_adapter(tiny.path(), tmp_path / "sft")
    trainer, _, attention = train._backend(params).dpo_trainer(tiny.path(), adapter, pref_rows(8),
                                                               params, tmp_path / "work")
    padded, packed, seen, unshared = dpo_padded_and_packed(trainer)
    assert attention == "sdpa" and seen and all(rows == 1 and tokens > unshared for rows, tokens in seen)
    assert packed == pytest.approx(padded, rel=1e-4, abs=1e-5)


def test_shared_prompts_on_an_attention_that_ignores_branches_raise_instead_of_mixing_answers():
    import torch

    from tuneline.train import trl_backend

    model, _ = trl_backend.load_model(BASE, attention="sdpa")  # SDPA's mask knows no branches
    packing.padding_free_backbone(model, share_prompts=True)
    ids = torch.tensor([[1, 504, 3458, 282], [1, 504, 28, 2]])  # a chosen and a rejected row
    with torch.no_grad(), pytest.raises(RuntimeError, match="packed_attention: native"):
        model(input_ids=ids, attention_mask=torch.ones_like(ids), use_cache=False)


def test_pack_rows_runs_each_pairs_shared_prefix_once_and_maps_every_token_back():
    import random

    import torch

    rng = random.Random(0)
    for case in range(40):
        pairs, width = rng.randint(1, 5), rng.randint(1, 12)
        prompts = [[rng.randint(1, 9) for _ in range(rng.randint(0, width))] for _ in range(pairs)]
        def answer(prompt):  # noqa: E306
            return (prompt + [rng.randint(1, 9) for _ in range(rng.randint(0, 6))])[:width + 4] or [1]
        seqs = [answer(p) for p in prompts] + [answer(p) for p in prompts]
        length = max(map(len, seqs))
        ids = torch.tensor([q + [0] * (length - len(q)) for q in seqs])
        keep = torch.tensor([[1] * len(q) + [0] * (length - len(q)) for q in seqs]).bool()
        packed, positions, where, source = packing.pack_rows(ids, keep, share_prompts=True)
        shared = [shared_prefix(c, r) for c, r in zip(seqs[:pairs], seqs[pairs:])]
        assert packed.shape[1] == sum(map(len, seqs)) - sum(shared), case
        index = torch.arange(len(where)) if source is None else source
        # every non-pad token of the batch reads a packed token of the same id and position
        assert torch.equal(packed[0][index], ids.flatten()[where]), case
        assert torch.equal(positions[0][index], where % length), case
        # whole rows: no sharing asked for, or rows padded on the left (TRL flushes them left)
        packed, _, _, source = packing.pack_rows(ids, keep, share_prompts=False)
        assert source is None and packed.shape[1] == int(keep.sum()), case
        if not bool(keep.all()):
            packed, _, _, source = packing.pack_rows(ids.flip(1), keep.flip(1), share_prompts=True)
            assert source is None and packed.shape[1] == int(keep.sum()), case


def test_a_branch_attends_to_its_documents_shared_prefix_and_itself_in_both_masks():
    # rows of documents, some with a branch (a rejected answer continuing the first p tokens);
    # the visibility each token should have, from how the row was built, against the [T, T]
    # mask (SDPA on the CPU) and the block mask (FlexAttention; torch's create_block_mask is
    # the reference for which blocks it visits)
    import random

    import torch
    from torch.nn.attention.flex_attention import create_block_mask

    rng = random.Random(1)
    for case in range(40):
        positions, sees = [], []
        for _ in range(rng.randint(1, 6)):
            start, trunk = len(positions), rng.choice([1, 2, 60, 127, 128, 200, 300])
            for t in range(trunk):
                sees.append(set(range(start, start + t + 1)))
            positions += range(trunk)
            if rng.random() < 0.7:
                p, branch_start = rng.randint(1, trunk), len(positions)
                for t in range(rng.choice([1, 5, 130, 250])):
                    sees.append(set(range(start, start + p)) | set(range(branch_start, branch_start + t + 1)))
                    positions.append(p + t)
        total = len(positions)
        want = torch.zeros(total, total, dtype=torch.bool)
        for q, kvs in enumerate(sees):
            want[q, list(kvs)] = True
        pos = torch.tensor(positions)[None]
        assert torch.equal(packed_masks.position_dense_mask(pos), want), case
        ref = create_block_mask(lambda b, h, q, kv: want[q, kv], None, None, total, total, device="cpu")
        got = packed_masks.position_block_mask(pos)
        for count, index in [("kv_num_blocks", "kv_indices"), ("full_kv_num_blocks", "full_kv_indices")]:
            # every block the reference visits is visited; the full ones are exactly its full ones
            for row in range(ref.kv_num_blocks.shape[-1]):
                k_ref = int(getattr(ref, count)[0, 0, row])
                k_got = int(getattr(got, count)[0, 0, row])
                blocks_ref = set(getattr(ref, index)[0, 0, row, :k_ref].tolist())
                blocks_got = set(getattr(got, index)[0, 0, row, :k_got].tolist())
                if count == "kv_num_blocks":
                    full = set(got.full_kv_indices[0, 0, row, :int(got.full_kv_num_blocks[0, 0, row])].tolist())
                    full_ref = set(ref.full_kv_indices[0, 0, row, :int(ref.full_kv_num_blocks[0, 0, row])].tolist())
                    assert blocks_ref | full_ref <= blocks_got | full, (case, row)
                else:
                    assert blocks_got <= blocks_ref, (case, row)  # never full where one is masked


@pytest.mark.slow  # compiles a layer (Dynamo and Inductor on the CPU)
def test_a_compiled_layer_takes_packed_rows_of_every_length_without_a_graph_per_length():
    # On the GPU hosts Unsloth runs each decoder layer as a compiled region, the packed row
    # (its BlockMask built outside) among its inputs. Whatever Dynamo guards on per row (a
    # global counter read in attention, the length as a constant) compiles the layer again at
    # every step: an 8B DPO run did not finish 14 steps. Dynamo with the aot_eager backend runs
    # here (no inductor, no FlexAttention backward on CPU); SDPA over the row's dense mask is
    # the reference for what attention returns.
    import torch
    import torch._dynamo.testing
    import torch.nn.functional as F

    torch._dynamo.reset()
    torch.manual_seed(0)
    heads, dim = 2, 16
    weight = torch.randn(heads * dim, 3 * heads * dim) * 0.1

    def qkv(hidden):
        n = hidden.shape[1]
        return (hidden @ weight).view(1, n, 3, heads, dim).permute(2, 0, 3, 1, 4)

    def layer(hidden, **kwargs):
        row = kwargs[packing.ROW_KWARG]
        q, k, v = qkv(hidden)
        row.mark_read()
        return packed_masks.flex_packed_attention(q, k, v, row.block_mask)

    counter = torch._dynamo.testing.CompileCounterWithBackend("aot_eager")
    compiled = torch.compile(layer, backend=counter, dynamic=None)
    for n in (300, 420, 513, 700, 260):
        # a document, then one whose last 30 tokens branch off its first 40 (a rejected answer)
        half = n // 2
        positions = torch.cat([torch.arange(half), torch.arange(n - half - 30),
                               torch.arange(40, 70)])[None]
        hidden = torch.randn(1, n, heads * dim)
        torch._dynamo.maybe_mark_dynamic(hidden, 1)  # as Unsloth marks a block's sequence dim
        row = packing.PackedRow(positions, packed_masks.position_block_mask(positions))
        with torch.no_grad():
            got = compiled(hidden, **{packing.ROW_KWARG: row})
            q, k, v = qkv(hidden)
            want = F.scaled_dot_product_attention(
                q, k, v, attn_mask=packed_masks.position_dense_mask(positions)).transpose(1, 2)
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)
        # read inside the compiled graph: the flag set, no read outside a compiled region
        assert row.read and row.eager_reads == 0, n
    assert counter.frame_count <= 2, counter.frame_count  # the first length, then any length


def test_padding_free_backbone_leaves_cached_and_single_row_calls_alone(tmp_path):
    import torch

    from tuneline.train import trl_backend

    model, _ = trl_backend.load_model(BASE)
    ids = torch.tensor([[1, 504, 3458, 282, 253], [1, 504, 28, 2, 0]])
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 1, 0]])
    with torch.no_grad():
        padded = model(input_ids=ids, attention_mask=mask, use_cache=False).logits
        packing.padding_free_backbone(model, share_prompts=False)
        packed = model(input_ids=ids, attention_mask=mask, use_cache=False).logits
        generated = model.generate(ids[:1], max_new_tokens=3, do_sample=False)
    assert (packed - padded)[mask.bool()].abs().max() < 1e-4
    assert generated.shape == (1, 8)  # a KV cache: the original forward


def test_the_registered_flex_attention_runs_padded_batches_as_sdpa_does():
    # the trl backend's FLEX attention: transformers accepts its name; a padded batch (a mask)
    # gets SDPA with the mask transformers builds (packed rows on CUDA: tests/gpu)
    import torch

    from tuneline.train import trl_backend

    sdpa, _ = trl_backend.load_model(BASE, attention="sdpa")
    flex, _ = trl_backend.load_model(BASE, attention=packing.FLEX)
    assert flex.config._attn_implementation == packing.FLEX
    ids = torch.tensor([[1, 504, 3458, 282, 253], [1, 504, 28, 2, 0]])
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 1, 0]])
    with torch.no_grad():
        want = sdpa(input_ids=ids, attention_mask=mask, use_cache=False).logits
        got = flex(input_ids=ids, attention_mask=mask, use_cache=False).logits
        unmasked = flex(input_ids=ids[:1], use_cache=False).logits
    assert (got - want)[mask.bool()].abs().max() < 1e-5
    assert (unmasked - want[:1]).abs().max() < 1e-4


def test_document_ids_number_the_examples_of_a_packed_row_and_its_pad_tail():
    import torch

    cu = torch.tensor([0, 3, 7], dtype=torch.int32)
    assert packed_masks.document_ids(cu, 9).tolist() == [0, 0, 0, 1, 1, 1, 1, 2, 2]


def test_the_document_block_mask_is_the_one_torch_builds_from_the_mask_function():
    # torch's create_block_mask evaluates the mask per token pair: the reference for the block
    # arithmetic, on rows of short, block-sized and block-crossing examples with pad tails
    import itertools
    import random

    import torch
    from torch.nn.attention.flex_attention import create_block_mask

    rng = random.Random(0)
    for _ in range(60):
        lengths = [rng.choice([1, 3, 50, 127, 128, 129, 300, 700]) for _ in range(rng.randint(1, 9))]
        cu = torch.tensor([0, *itertools.accumulate(lengths)], dtype=torch.int32)
        total = int(cu[-1]) + rng.choice([0, 5, 130])
        doc = packed_masks.document_ids(cu, total)
        want = create_block_mask(lambda b, h, q, kv: (doc[q] == doc[kv]) & (q >= kv), None, None,
                                 total, total, device="cpu")
        # the same row as the trl backend sees it: position_ids restarting per example
        starts = (cu if total > int(cu[-1]) else cu[:-1]).long()  # a pad tail is one more example
        positions = torch.arange(total) - starts[torch.searchsorted(starts, torch.arange(total), right=True) - 1]
        for got in (packed_masks.document_block_mask(cu, total), packed_masks.position_block_mask(positions[None])):
            for count, index in [("kv_num_blocks", "kv_indices"), ("full_kv_num_blocks", "full_kv_indices"),
                                 ("q_num_blocks", "q_indices"), ("full_q_num_blocks", "full_q_indices")]:
                assert torch.equal(getattr(got, count), getattr(want, count)), (lengths, total, count)
                for row, k in enumerate(getattr(want, count)[0, 0].tolist()):
                    assert torch.equal(getattr(got, index)[0, 0, row, :k], getattr(want, index)[0, 0, row, :k])


def test_attention_is_flex_only_for_padding_free_rows():
    assert packing.attn_implementation(packed=True, packed_attention="flex") == packing.FLEX
    assert packing.attn_implementation(packed=False, packed_attention="flex") == "sdpa"
    assert packing.attn_implementation(packed=True, packed_attention="native") == "sdpa"


def test_checkpointing_policy_values_and_the_layers_they_mean():
    assert SFTParams(gradient_checkpointing=True).gradient_checkpointing == "on"
    assert SFTParams(gradient_checkpointing=False).gradient_checkpointing == "off"
    assert SFTParams().gradient_checkpointing == "auto"
    with pytest.raises(ValueError, match="not a share of the layers"):
        SFTParams(gradient_checkpointing=1.5)
    assert [checkpointing.fixed_layers(p, 32) for p in ("on", "off", 0.25, "auto")] == [32, 0, 8, None]
    assert not checkpointing.enabled("off") and not checkpointing.enabled(0.0)
    assert checkpointing.enabled("auto") and checkpointing.enabled(0.5)


def test_auto_bisects_to_the_fewest_checkpointed_layers_whose_measured_peak_fits():
    # a peak shaped as measured on GPU: the first kept layers hide under the transient peak
    # of the logits and the recompute (10 GiB), after that each costs 1 GiB
    def peak(k, n=32, kept_free=4):
        return 10 + max(0, (n - k) - kept_free) * 1.0

    def run(budget):
        probed = []
        k, why = checkpointing.fewest_that_fit(32, lambda k: probed.append(k) or peak(k) <= budget)
        return k, why, probed

    k, why, probed = run(budget=80)
    assert (k, probed) == (0, [0]) and "every layer" in why  # nothing to recompute
    k, why, probed = run(budget=24.5)
    assert k == 14 and peak(k) <= 24.5 < peak(k - 1)
    assert len(probed) <= 2 + 5  # 0, 32, then bisection over 32
    k, why, _ = run(budget=10)
    assert k == 28  # four layers' activations still fit under the transient peak
    k, why, probed = run(budget=8)
    assert (k, probed) == (32, [0, 32]) and "over the budget" in why


@pytest.mark.slow  # trains a model
def test_a_share_of_layers_is_checkpointed_and_recorded_in_the_metrics(tmp_path):
    m = train.train_sft(tiny.path(), sft_rows(4), SFTParams(max_steps=1, batch_size=2, max_length=128,
                                                     gradient_checkpointing=0.5,
                                                     checkpoint_every=0), tmp_path)
    assert m["gradient_checkpointing"] == {"policy": 0.5, "layers": tiny.LAYERS,
                                           "checkpointed_layers": tiny.LAYERS // 2}
    assert m["attention"] == "sdpa"


def test_a_failed_auto_measurement_fails_the_run_naming_the_rank_and_the_cause(monkeypatch):
    # control flow only: a stand-in trainer whose "GPU" cannot be measured (torch here has no
    # CUDA, so asking for the GPU's memory raises). A fallback taken on one rank alone would
    # leave the others waiting in the next collective (tests/test_collectives.py: on every rank)
    from types import SimpleNamespace

    import torch
    from transformers.modeling_layers import GradientCheckpointingLayer

    from tuneline.train.collectives import RankFailed

    layers = torch.nn.ModuleList([GradientCheckpointingLayer() for _ in range(4)])
    for layer in layers:
        layer._gradient_checkpointing_func = None
    trainer = SimpleNamespace(model=layers, is_fsdp_enabled=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    recompute = checkpointing.callback(trainer, SFTParams(gradient_checkpointing="auto"))
    with pytest.raises(RankFailed, match="budget failed on rank 0"):
        recompute.on_train_begin(None, None, None)
