"""TRL 1.15 on CPU-only torch.

TRL 1.15's SFT and DPO trainers compute token log-probabilities through a fused LM head
whose only implementation is a Triton kernel (`trl.kernels.ChunkedLogProbFunction`); on a
torch build without Triton the name is None and training fails with
"'NoneType' object has no attribute 'apply'". This module supplies the same function in
plain torch (full logits, autograd for the backward), used only when Triton is absent, and
only while a trainer's own calls run (`loss_kernel`).
"""

from __future__ import annotations

from tuneline import patches
from tuneline.train.scoping import rebound


class TorchChunkedLogProb:
    """Same contract as trl.kernels.ChunkedLogProbFunction.apply, in plain torch."""

    @staticmethod
    def apply(hidden, weight, bias, targets, temperature, chunk_size, final_logit_softcapping=None,
              logit_scale=1.0, outputs=("entropy", "log_sum_sq_probs", "mean_logits", "is_top1")):
        import torch
        import torch.nn.functional as F

        logits = F.linear(hidden, weight, bias).float() * logit_scale
        if final_logit_softcapping is not None:
            logits = final_logit_softcapping * torch.tanh(logits / final_logit_softcapping)
        logits = logits / temperature
        logp = torch.log_softmax(logits, dim=-1)
        token_logp = logp.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
        with torch.no_grad():  # the optional outputs feed metrics only
            extra = {
                "entropy": lambda: -(logp.exp() * logp).sum(-1),
                "log_sum_sq_probs": lambda: torch.logsumexp(2 * logp, dim=-1),
                "mean_logits": lambda: logits.mean(-1),
                "is_top1": lambda: logits.argmax(-1) == targets,
            }
            optional = [extra[name]() if name in outputs else None for name in extra]
        return (token_logp, *optional)


def _loss_kernel_targets() -> list:
    from trl.trainer import utils as trl_utils

    if trl_utils._ChunkedLogProbFunction is not None:  # Triton is there: TRL's own kernel
        return []
    patches.check("trl-cpu-loss-kernel")
    return [(trl_utils, "_ChunkedLogProbFunction", TorchChunkedLogProb)]


# in effect during a trainer's own calls only (`scoping.during_calls(trainer, loss_kernel)`)
loss_kernel = rebound(_loss_kernel_targets)


def _cpu_index_deserializer(obj, location: str):
    return obj if location.startswith("cpu:") and location[4:].isdigit() else None


def accept_cpu_device_index() -> None:
    """Resuming DDP on CPU: transformers loads the optimizer state with
    `map_location=args.device`, which there is `cpu:0`, a location torch's own CPU
    deserializer refuses ("don't know how to restore data location ... cpu:0"; transformers
    5.17, torch 2.13). This registers the one that takes it, as plain CPU memory."""
    import torch.serialization as ts

    patches.check("torch-cpu-device-index")  # process-wide: torch has no way to unregister one
    if not any(d is _cpu_index_deserializer for _, _, d in ts._package_registry):
        ts.register_package(100, lambda obj: None, _cpu_index_deserializer)
