"""What both training backends share: the explicit trainer arguments, checkpoints, metrics."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

from tuneline.params import TrainParams
from tuneline.train import last_checkpoint
from tuneline.train.tracking import comet_finish, comet_setup


def trainer_args(params: TrainParams, work: Path, run_name: str, gpu: bool) -> tuple[dict, dict]:
    """Every hyperparameter explicit: defaults differ between TRL versions and change silently
    after `import unsloth` (lr, grad accumulation, optimizer), and a run must mean the same
    thing on every backend. Returns the arguments and the tracking info."""
    report_to, tracking = comet_setup(run_name)
    every = params.checkpoint_every
    args: dict[str, Any] = dict(
        output_dir=str(work / "checkpoints"),
        run_name=run_name,
        learning_rate=params.learning_rate,
        num_train_epochs=params.epochs,
        max_steps=params.max_steps,
        per_device_train_batch_size=params.batch_size,
        gradient_accumulation_steps=params.grad_accum,
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
        gradient_checkpointing=params.gradient_checkpointing,
        include_num_input_tokens_seen="non_padding",
        bf16=gpu,
        fp16=False,
        dataloader_pin_memory=gpu,
        disable_tqdm=False,
    )
    return args, tracking


def train_and_save(trainer, work: Path, out_dir: Path, n_rows: int, tracking: dict) -> dict:
    """Train (resuming from the newest checkpoint of an interrupted run), save the adapter in
    `out_dir`, drop the checkpoints, and return the metrics."""
    resume = last_checkpoint(work / "checkpoints")
    speed = throughput_callback()
    trainer.add_callback(speed)
    result = trainer.train(resume_from_checkpoint=resume)
    trainer.model.save_pretrained(str(out_dir / "adapter"))
    history = [h for h in trainer.state.log_history if "loss" in h]
    shutil.rmtree(work, ignore_errors=True)  # finished: nothing left to resume
    return {
        "train_loss": float(result.training_loss),
        "final_step_loss": float(history[-1]["loss"]) if history else None,
        "steps": int(result.global_step),
        "resumed_from": Path(resume).name if resume else None,
        "runtime_s": round(float(result.metrics.get("train_runtime", 0.0)), 2),
        "examples": n_rows,
        "loss_curve": [round(float(h["loss"]), 4) for h in history],
        **speed.measured(trainer.args),
        "tracking": comet_finish(tracking),
    }


def throughput_callback(skip: int = 2):
    """Tokens/s and examples/s after the first `skip` optimizer steps (kernel autotuning and
    allocator warm-up are not throughput), and peak GPU memory."""
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
            if cuda:
                torch.cuda.reset_peak_memory_stats()

        def on_step_end(self, args, state, control, **kw):
            mark = (now(), state.global_step, state.num_input_tokens_seen)
            if self.start is None and state.global_step >= skip:
                self.start = mark
            self.end = mark

        def measured(self, args) -> dict:
            if self.start is None or self.end[1] <= self.start[1]:
                return {}
            dt = self.end[0] - self.start[0]
            steps = self.end[1] - self.start[1]
            per_step = args.per_device_train_batch_size * args.gradient_accumulation_steps
            out = {"tokens_per_s": round((self.end[2] - self.start[2]) / dt, 1),
                   "examples_per_s": round(steps * per_step / dt, 3), "measured_steps": steps}
            if cuda:
                out["peak_memory_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
            return out

    return Throughput()
