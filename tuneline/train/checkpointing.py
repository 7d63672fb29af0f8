"""How many decoder layers recompute their activations in backward (gradient checkpointing).

Checkpointing every layer costs ~1.4x the step time of none on an 8B model at 4 x 2048 tokens,
and none costs ~2.7x the memory; the right amount depends on the GPU and the sequence length.
The policy (`TrainParams.gradient_checkpointing`):

- `on` / `off`: every layer / none; a number in [0, 1]: that share of the layers.
- `auto`: the fewest checkpointed layers whose predicted peak fits `max_memory_gib` (default
  90% of the GPU's memory). The prediction comes from a short measurement on the run's own
  longest batch: one forward + backward with every layer checkpointed and one with `PROBE`
  layers not, so peak(m layers not checkpointed) = all + m x per_layer + optimizer state.
"""

from __future__ import annotations

import copy
import logging
import math

log = logging.getLogger(__name__)

PROBE = 2  # layers left un-checkpointed in the second measurement
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


def least_that_fits(n_layers: int, all_gib: float, per_layer_gib: float, extra_gib: float,
                    budget_gib: float) -> int:
    """Fewest checkpointed layers with all + (n - k) x per_layer + extra <= budget (all when
    even that does not fit: the run then needs a smaller batch or sequence)."""
    if per_layer_gib <= 0:
        return 0
    free = math.floor((budget_gib - all_gib - extra_gib) / per_layer_gib)
    return n_layers - max(0, min(n_layers, free))


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
                try:
                    k = self._auto(layers, params.max_memory_gib)
                except Exception as e:  # a failed measurement must not cost the run: recompute all
                    log.warning("gradient_checkpointing auto: measurement failed (%s); "
                                "checkpointing every layer", e)
                    self.record["chosen_because"] = f"measurement failed ({type(e).__name__}: {e})"
                    k = n
            set_layers(layers, k)
            self.record["checkpointed_layers"] = k

        def _auto(self, layers, budget_gib) -> int:
            import torch

            from tuneline.train.common import all_ranks

            n = len(layers)
            if not torch.cuda.is_available():
                self.record["chosen_because"] = "no CUDA GPU to measure: every layer"
                return n
            if budget_gib is None:
                total = torch.cuda.get_device_properties(torch.cuda.current_device()).total_memory
                budget_gib = HEADROOM * total / 2**30
            all_gib, probe_gib = measure(trainer, layers, n), measure(trainer, layers, n - PROBE)
            per_layer = max(0.0, (probe_gib - all_gib) / min(PROBE, n)) if probe_gib else None
            trainable = sum(p.numel() for p in trainer.model.parameters() if p.requires_grad)
            extra = OPTIMIZER_BYTES * trainable / 2**30
            if per_layer is None:  # the probe itself ran out of memory
                k = n
            else:
                k = least_that_fits(n, all_gib, per_layer, extra, budget_gib)
            k = max(all_ranks(k))  # every DDP rank runs the same graph
            self.record.update(
                budget_gib=round(budget_gib, 2), all_checkpointed_gib=round(all_gib, 2),
                per_layer_gib=round(per_layer, 3) if per_layer is not None else None,
                optimizer_state_gib=round(extra, 2),
                predicted_peak_gib=round(all_gib + (n - k) * (per_layer or 0) + extra, 2))
            return k

    return Checkpointing()


def measure(trainer, layers: list, k: int) -> float | None:
    """Peak GPU GiB of one forward + backward on the longest per-device batch with the first `k`
    layers checkpointed; None when it runs out of memory. Gradients, RNG and the trainer's
    logged metrics are left as they were."""
    import torch

    set_layers(layers, k)
    batch = trainer._prepare_inputs(trainer.data_collator(longest_rows(trainer)))
    saved = {name: copy.deepcopy(getattr(trainer, name)) for name in ("_metrics", "_total_train_tokens")
             if hasattr(trainer, name)}
    model = trainer.model_wrapped
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
