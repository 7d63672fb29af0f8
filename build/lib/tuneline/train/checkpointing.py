"""How many decoder layers recompute their activations in backward (gradient checkpointing).

Checkpointing every layer costs ~1.4x the step time of none on an 8B model at 4 x 2048 tokens,
and none costs ~2.7x the memory; the right amount depends on the GPU and the sequence length.
The policy (`TrainParams.gradient_checkpointing`):

- `on` / `off`: every layer / none; a number in [0, 1]: that share of the layers.
- `auto`: the fewest checkpointed layers whose measured peak fits `max_memory_gib` (default
  90% of the GPU's memory). Before the first step it runs one forward + backward of the run's
  own longest batch per candidate, bisecting over the number of checkpointed layers (about
  log2(layers) + 2 probes, each the cost of one step). It measures rather than extrapolates:
  the peak is not linear in the layers kept (the first ones fit under the logits' and
  recompute's transient peak for free, seen on GPU: a 2-layer probe predicted a quarter of
  the real cost of keeping all 8), so a slope from two probes under-predicts.
"""

from __future__ import annotations

import copy

from tuneline import patches
from tuneline.train.collectives import on_every_rank, rank

HEADROOM = 0.9  # share of the GPU's memory `auto` may plan for (allocator slack, other users)
OPTIMIZER_BYTES = 8  # per trainable parameter: AdamW's two fp32 moments (8-bit ones need less)
TOKEN_COLUMNS = ("input_ids", "prompt_ids", "chosen_ids", "rejected_ids")  # SFT and DPO rows


def fixed_layers(policy, n_layers: int) -> int | None:
    """Checkpointed layers for a fixed policy; None for `auto` (it measures)."""
    if policy == "auto":
        return None
    if policy == "on":
        return n_layers
    if policy == "off":
        return 0
    return round(float(policy) * n_layers)


def enabled(policy) -> bool:
    """Whether the model needs checkpointing set up at all (then layers are switched one by one)."""
    return policy != "off" and not (isinstance(policy, float) and policy == 0.0)


def fewest_that_fit(n_layers: int, fits) -> tuple[int, str]:
    """Fewest checkpointed layers k in [0, n] with `fits(k)`, and why; the peak does not grow
    with k, so bisection finds it in about log2(n) + 2 calls. All layers when not even that
    fits (the run then needs a smaller batch or sequence)."""
    if fits(0):
        return 0, "every layer's activations fit"
    if not fits(n_layers):
        return n_layers, "even with every layer checkpointed the peak is over the budget"
    lo, hi = 0, n_layers  # lo does not fit, hi does
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if fits(mid) else (mid, hi)
    return hi, "the fewest checkpointed layers whose measured peak fits"


def trainable_parameters(model) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def decoder_layers(model) -> list:
    from transformers.modeling_layers import GradientCheckpointingLayer

    return [m for m in model.modules() if isinstance(m, GradientCheckpointingLayer)]


def set_layers(layers: list, k: int) -> None:
    """Checkpoint the first `k` layers and keep the activations of the rest."""
    for i, layer in enumerate(layers):
        layer.gradient_checkpointing = i < k


def callback(trainer, params):
    """A TrainerCallback that applies the policy once the Trainer has set checkpointing up
    (on_train_begin) and keeps what it chose in `.record` for the run's metadata."""
    from transformers import TrainerCallback

    policy = params.gradient_checkpointing

    class Checkpointing(TrainerCallback):
        record: dict = {"policy": policy}

        def on_train_begin(self, args, state, control, **kw):
            layers = decoder_layers(trainer.model)
            n = len(layers)
            self.record = {"policy": policy, "layers": n}
            if trainer.is_fsdp_enabled:  # FSDP's own activation checkpointing wraps every layer
                self.record["checkpointed_layers"] = n if enabled(policy) else 0
                self.record["chosen_because"] = "fsdp checkpoints every layer or none"
                return
            if not enabled(policy) or not layers or not hasattr(layers[0], "_gradient_checkpointing_func"):
                self.record["checkpointed_layers"] = 0
                return
            k = fixed_layers(policy, n)
            if k is None:
                # a probe that fails on any rank fails every rank at once (on_every_rank): a
                # fallback taken on one rank alone would leave the others in a collective
                k = self._auto(layers, params.max_memory_gib)
            set_layers(layers, k)
            self.record["checkpointed_layers"] = k

        def _auto(self, layers, budget_gib) -> int:
            import gc

            import torch

            n = len(layers)
            if not torch.cuda.is_available():
                self.record["chosen_because"] = "no CUDA GPU to measure: every layer"
                return n

            def budget() -> float:  # this rank's GPU, in a collective: it fails on all or none
                if budget_gib is not None:
                    return budget_gib
                total = torch.cuda.get_device_properties(torch.cuda.current_device()).total_memory
                return HEADROOM * total / 2**30

            budget_gib = on_every_rank(budget)[rank()]
            trainable = trainable_parameters(trainer.model)
            extra = OPTIMIZER_BYTES * trainable / 2**30  # allocated at the first optimizer step
            gc.collect()  # an earlier run's unreachable tensors are not this run's peak
            probes = {}

            def fits(k: int) -> bool:
                peak = measure(trainer, layers, k)
                probes[str(k)] = round(peak, 2) if peak is not None else "out of memory"
                return peak is not None and peak + extra <= budget_gib

            def fits_everywhere(k: int) -> bool:  # the same graph on every DDP rank: the same k
                return all(on_every_rank(fits, k))

            k, why = fewest_that_fit(n, fits_everywhere)
            peak = probes.get(str(k))
            self.record.update(
                budget_gib=round(budget_gib, 2), optimizer_state_gib=round(extra, 2),
                probes_gib=probes, chosen_because=why,
                predicted_peak_gib=round(peak + extra, 2) if isinstance(peak, float) else None)
            return k

    return Checkpointing()


def measure(trainer, layers: list, k: int) -> float | None:
    """Peak GPU GiB of one forward + backward on the longest per-device batch with the first `k`
    layers checkpointed; None when it runs out of memory. Gradients, RNG and the trainer's
    logged metrics are left as they were."""
    import torch

    patches.check("trainer-private-calls")
    set_layers(layers, k)
    batch = trainer._prepare_inputs(trainer.data_collator(longest_rows(trainer)))
    saved = {name: copy.deepcopy(getattr(trainer, name)) for name in ("_metrics", "_total_train_tokens")
             if hasattr(trainer, name)}
    # the bare model, not DDP's wrapper: a probe's backward must not wait on the other ranks
    # (one of them may have run out of memory)
    model = trainer.model
    model.train()
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    try:
        with torch.random.fork_rng(devices=[torch.cuda.current_device()]):
            loss = trainer.compute_loss(model, batch)
            trainer.accelerator.backward(loss)
        torch.cuda.synchronize()
        return torch.cuda.max_memory_allocated() / 2**30
    except torch.OutOfMemoryError:
        return None
    finally:
        loss = None
        model.zero_grad(set_to_none=True)
        for name, value in saved.items():
            setattr(trainer, name, value)
        torch.cuda.empty_cache()


def longest_rows(trainer, scan: int = 1000) -> list[dict]:
    """The per-device batch of the longest tokenized rows among the first `scan`: the peak a
    run will meet (packed SFT rows are all near max_length anyway)."""
    ds = trainer.train_dataset
    if trainer.args.remove_unused_columns:  # what the Trainer's own dataloader feeds the collator
        ds = trainer._remove_unused_columns(ds)
    rows = [ds[i] for i in range(min(scan, len(ds)))]

    def tokens(row):
        return sum(len(row.get(key) or ()) for key in TOKEN_COLUMNS)

    rows.sort(key=tokens, reverse=True)
    return rows[:trainer.args.per_device_train_batch_size]
