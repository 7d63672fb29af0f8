"""What both training backends share: the explicit trainer arguments, checkpoints, metrics."""

from __future__ import annotations

import gc
import os
import shutil
import time
from pathlib import Path
from typing import Any

from tuneline.params import TrainParams
from tuneline.train import checkpointing, distributed
from tuneline.train.checkpointing import trainable_parameters
from tuneline.train.collectives import all_ranks
from tuneline.train.tracking import comet_finish, comet_setup


def cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def last_checkpoint(folder: Path) -> str | None:
    """The newest complete `checkpoint-N` folder (the Trainer writes trainer_state.json last)."""
    done = [p for p in folder.glob("checkpoint-*")
            if p.name.split("-")[-1].isdigit() and (p / "trainer_state.json").exists()]
    return str(max(done, key=lambda p: int(p.name.split("-")[-1]))) if done else None


def trainer_args(params: TrainParams, work: Path, run_name: str, gpu: bool) -> tuple[dict, dict]:
    """Every hyperparameter explicit: defaults differ between TRL versions and change silently
    after `import unsloth` (lr, grad accumulation, optimizer), and a run must mean the same
    thing on every backend. Returns the arguments and the tracking info.

    Under torchrun the step's batch is split over the processes (`distributed.rank_batch`)
    and only rank 0 reports to Comet."""
    world = int(os.environ.get("WORLD_SIZE", "1")) if distributed.launched() else 1
    per_device, accum = distributed.rank_batch(params.batch_size, params.grad_accum, world)
    if distributed.current_rank() == 0:
        report_to, tracking = comet_setup(run_name)
    else:
        report_to, tracking = "none", {"comet": f"rank {distributed.current_rank()} does not report"}
    every = params.checkpoint_every
    args: dict[str, Any] = dict(
        output_dir=str(work / "checkpoints"),
        run_name=run_name,
        learning_rate=params.learning_rate,
        num_train_epochs=params.epochs,
        max_steps=params.max_steps,
        per_device_train_batch_size=per_device,
        gradient_accumulation_steps=accum,
        warmup_steps=params.warmup,
        weight_decay=params.weight_decay,
        lr_scheduler_type=params.lr_scheduler,
        optim=params.optimizer,
        seed=params.seed,
        data_seed=params.seed,
        max_length=params.max_length,
        logging_steps=params.logging_steps,
        save_strategy="steps" if every else "no",
        save_steps=every or 500,
        save_total_limit=2,
        report_to=report_to,
        # on for every layer here; the policy switches layers off once training begins
        gradient_checkpointing=checkpointing.enabled(params.gradient_checkpointing),
        include_num_input_tokens_seen="non_padding",
        bf16=gpu,
        fp16=False,
        dataloader_pin_memory=gpu,
        disable_tqdm=distributed.current_rank() != 0,
    )
    if distributed.launched():
        args.update(distributed_args(params, gpu))
    return args, tracking


def distributed_args(params: TrainParams, gpu: bool) -> dict[str, Any]:
    """The Trainer's DDP / FSDP arguments (accelerate sets the process group up from them)."""
    d = params.distributed
    args: dict[str, Any] = dict(ddp_timeout=d.timeout_s,
                                # without it accelerate sees no distributed CPU setup and each
                                # rank trains alone (DistributedType.NO, seen on torch 2.13)
                                use_cpu=not gpu,
                                # LoRA: every trainable parameter gets a gradient each step
                                ddp_find_unused_parameters=False)
    if not gpu or distributed.world_size(d) > 1:
        # one process on a GPU: accelerate picks the backend. Unsloth, imported on a one-GPU
        # host, patches accelerate to report none (unsloth/models/_utils.py), and an explicit
        # "nccl" is then refused ("Your assigned backend nccl is not available", H200)
        args["ddp_backend"] = "nccl" if gpu else "gloo"
    if d.strategy == "fsdp":
        # FSDP2 (transformers' default); its wrapping follows the model's _no_split_modules
        # (the decoder layer), and recomputation is FSDP's own activation checkpointing
        # (the Trainer's gradient checkpointing adds an all-gather per layer in backward)
        args["fsdp"] = True
        args["fsdp_config"] = {"version": 2, "cpu_offload": d.fsdp_cpu_offload,
                               "reshard_after_forward": d.fsdp_sharding == "full_shard",
                               "activation_checkpointing":
                                   checkpointing.enabled(params.gradient_checkpointing),
                               "state_dict_type": "FULL_STATE_DICT"}
        args["gradient_checkpointing"] = False
    return args


def train_and_save(trainer, params: TrainParams, work: Path, out_dir: Path, n_rows: int,
                   tracking: dict, attention: str) -> dict:
    """Train (resuming from the newest checkpoint of an interrupted run), save the adapter in
    `out_dir`, drop the checkpoints, and return the metrics (`attention`: what ran, for them)."""
    resume = last_checkpoint(work / "checkpoints")
    recompute = checkpointing.callback(trainer, params)
    trainer.add_callback(recompute)  # first: its measurement is not the run's peak memory
    speed = throughput_callback()
    trainer.add_callback(speed)
    trainable = trainable_parameters(trainer.model)  # before FSDP shards
    result = trainer.train(resume_from_checkpoint=resume)
    if trainer.is_fsdp_enabled:
        trainer.save_model(str(out_dir / "adapter"))  # every rank gathers; rank 0 writes
    elif trainer.is_world_process_zero():
        trainer.model.save_pretrained(str(out_dir / "adapter"))
    history = [h for h in trainer.state.log_history if "loss" in h]
    measured = speed.measured(trainer.args)  # a collective under torchrun: every rank
    trainer.accelerator.wait_for_everyone()
    if not trainer.is_world_process_zero():
        return {}
    shutil.rmtree(work, ignore_errors=True)  # finished: nothing left to resume
    return {
        "train_loss": float(result.training_loss),
        "final_step_loss": float(history[-1]["loss"]) if history else None,
        "steps": int(result.global_step),
        "resumed_from": Path(resume).name if resume else None,
        "runtime_s": round(float(result.metrics.get("train_runtime", 0.0)), 2),
        "examples": n_rows,
        "trainable_parameters": trainable,
        "loss_curve": [round(float(h["loss"]), 4) for h in history],
        **measured,
        # what accelerate actually ran: NO, MULTI_CPU / MULTI_GPU (DDP) or FSDP
        "distributed_type": str(trainer.accelerator.distributed_type).rsplit(".", 1)[-1],
        "gradient_checkpointing": recompute.record,
        "attention": attention,
        "tracking": comet_finish(tracking),
    }


def throughput_callback(skip: int = 2):
    """Tokens/s and examples/s after the first `skip` optimizer steps (kernel autotuning and
    allocator warm-up are not throughput), and peak GPU memory: in total and per process
    under torchrun (the Trainer counts the tokens of all ranks)."""
    import torch
    from transformers import TrainerCallback

    cuda = torch.cuda.is_available()

    def now() -> float:
        if cuda:
            torch.cuda.synchronize()
        return time.perf_counter()

    class Throughput(TrainerCallback):
        start = end = None

        def on_train_begin(self, args, state, control, **kw):
            self.marks = []
            if cuda:
                gc.collect()  # an earlier run's unreachable tensors are not this run's peak
                torch.cuda.reset_peak_memory_stats()

        def on_step_end(self, args, state, control, **kw):
            mark = (now(), state.global_step, state.num_input_tokens_seen)
            if self.start is None and state.global_step >= skip:
                self.start = mark
            if self.start is not None:
                self.marks.append(mark)
            self.end = mark

        def measured(self, args) -> dict:
            if self.start is None or self.end[1] <= self.start[1]:
                return {}
            dt = self.end[0] - self.start[0]
            steps = self.end[1] - self.start[1]
            world = args.world_size
            per_step = args.per_device_train_batch_size * args.gradient_accumulation_steps * world
            tokens_per_s = (self.end[2] - self.start[2]) / dt
            out = {"tokens_per_s": round(tokens_per_s, 1),
                   "examples_per_s": round(steps * per_step / dt, 3), "measured_steps": steps,
                   "processes": world}
            if steps >= 3:  # three equal windows of the measured steps: repeats to take a median of
                n, m = steps, self.marks
                cuts = [m[i * n // 3] for i in range(4)]
                out["tokens_per_s_windows"] = [round((b[2] - a[2]) / (b[0] - a[0]), 1)
                                               for a, b in zip(cuts, cuts[1:])]
                out["examples_per_s_windows"] = [round((b[1] - a[1]) * per_step / (b[0] - a[0]), 3)
                                                 for a, b in zip(cuts, cuts[1:])]
            if world > 1:
                out["tokens_per_s_per_process"] = round(tokens_per_s / world, 1)
            if cuda:
                peaks = all_ranks(round(torch.cuda.max_memory_allocated() / 2**30, 2))
                out["peak_memory_gib"] = max(peaks)
                if world > 1:
                    out["peak_memory_gib_per_process"] = peaks
            return out

    return Throughput()
