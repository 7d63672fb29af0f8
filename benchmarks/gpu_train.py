"""GPU training throughput: tuneline's Unsloth backend vs its TRL + PEFT (Hugging Face) backend,
measured in the same run on the same data, with the product's own train_sft / train_dpo.

The model is the Llama-3.1-8B architecture with random weights (throughput does not depend on
weight values; 16 GB of real weights need not be shipped). The data is realistic chat: prompts
and answers with log-normal lengths (median ~60 and ~300 tokens, answers up to ~2k tokens).
Each configuration runs in its own process (`import unsloth` patches transformers and TRL for
the rest of a process), one after another on the same GPU.

    python benchmarks/gpu_train.py --tokenizer DIR sft          # HF+PEFT vs Unsloth, knobs
    python benchmarks/gpu_train.py --tokenizer DIR dpo          # pairs/s, TRL vs Unsloth
    python benchmarks/gpu_train.py --tokenizer DIR scale        # 1 GPU vs 2: DDP, FSDP

Reported: tokens/s (non-padding input tokens per second after 2 warm-up steps: the median of
three equal windows of the measured steps, with the spread), peak GPU memory, MFU = tokens/s x
6 x parameters / 989 TFLOP/s (H100 SXM dense bf16; the usual 6N convention, although frozen LoRA
base weights skip their weight gradients), and each configuration's ratio to its own baseline
(named in the table: the same model and checkpointing with the other packing, attention or
backend). The tokenizer folder is printed with the results.

    python benchmarks/gpu_train.py --tokenizer DIR sft --profile "unsloth bfd native;unsloth bfd flex"

profiles one step of those configurations (top CUDA kernels, kernel launches per step).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).parents[1]
sys.path.insert(0, str(ROOT))

LLAMA_31_8B = dict(vocab_size=128256, hidden_size=4096, intermediate_size=14336,
                   num_hidden_layers=32, num_attention_heads=32, num_key_value_heads=8,
                   max_position_embeddings=8192, rope_theta=500000.0, rms_norm_eps=1e-5,
                   tie_word_embeddings=False)
# a smoke-test shape for checking this script on CPU (--arch tiny --only hf+peft)
TINY = dict(LLAMA_31_8B, hidden_size=128, intermediate_size=256, num_hidden_layers=2,
            num_attention_heads=4, num_key_value_heads=2)
PEAK_FLOPS = 989e12

WORDS = ("the adapter rank controls capacity while alpha scales updates learning rate warmup "
         "packing sequences tokens gradient checkpointing memory batch preference chosen "
         "rejected reward policy reference model dataset dedup judge score filter quality "
         "evaluation loss epoch optimizer schedule cosine linear weight decay").split()


def build_model(tokenizer: str, out: Path, arch: dict) -> Path:
    """Random-init Llama in bf16, saved once (the tokenizer's ids index its vocab)."""
    if (out / "config.json").exists():
        return out
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tok = AutoTokenizer.from_pretrained(tokenizer)
    cfg = LlamaConfig(**arch, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id)
    torch.set_default_dtype(torch.bfloat16)
    with torch.device("cuda" if torch.cuda.is_available() else "cpu"):
        model = LlamaForCausalLM(cfg)
    model.save_pretrained(out, max_shard_size="5GB")
    tok.save_pretrained(out)
    del model
    return out


def text(rng, median_tokens: float, cap: int) -> str:
    n = int(min(cap, max(4, rng.lognormvariate(0, 0.8) * median_tokens)))
    return " ".join(rng.choice(WORDS) for _ in range(int(n * 0.8)))  # ~1.25 tokens per word


def make_rows(task: str, n: int, seed: int = 0, prompt_tokens: int = 60, turns: int = 1) -> list[dict]:
    """Made-up rows; with `turns` > 1 (SFT), the same texts as conversations: each prompt and
    answer cut into `turns` user and assistant turns, the loss on every assistant turn, so a
    multi-turn configuration trains on the same words as the single-turn one (a few template
    tokens more per turn)."""
    import random

    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        prompt = [{"role": "user", "content": text(rng, prompt_tokens, max(400, 4 * prompt_tokens))}]
        if task == "sft":
            answer = text(rng, 300, 1600)
            if turns == 1:
                rows.append({"prompt": prompt,
                             "completion": [{"role": "assistant", "content": answer}]})
                continue
            from tuneline.records import Pair, messages

            def cut(t: str) -> list[str]:
                words = t.split()
                step = -(-len(words) // turns)
                return [" ".join(words[i * step:(i + 1) * step]) or "more" for i in range(turns)]

            exchanges = list(zip(cut(prompt[0]["content"]), cut(answer)))
            pair = Pair("b", "", "bench", *exchanges[-1], history=tuple(exchanges[:-1]))
            rows.append({"messages": messages(pair)})
        else:
            rows.append({"prompt": prompt,
                         "chosen": [{"role": "assistant", "content": text(rng, 250, 700)}],
                         "rejected": [{"role": "assistant", "content": text(rng, 250, 700)}]})
    return rows


def child(args) -> None:
    """One configuration, in this process: the product's training entry point."""
    from tuneline import train
    from tuneline.params import DPOParams, SFTParams

    config = json.loads(args.config)
    config.pop("turns", None)  # chose the rows file
    env = config.pop("env", {})
    os.environ.update(env)
    rows = json.loads(Path(args.rows).read_text())
    out = Path(args.out)
    profile = config.pop("profile", False)
    if profile:
        profile_one_step(out / "profile.json", with_stack=profile == "stack")
    keep_inputs = config.pop("unsloth_checkpointing", None)
    if keep_inputs is not None:  # where Unsloth keeps a checkpointed layer's input
        from tuneline.train import unsloth_backend

        unsloth_backend.CHECKPOINTING = keep_inputs
    if config.pop("stock_trl", False):  # TRL's own reference-forward contexts (the baseline)
        import contextlib

        from tuneline.train import reference

        reference.reference_forward = contextlib.nullcontext
    step_s = record_step_times()
    blocks = record_block_compile()
    started = time.perf_counter()
    if args.task == "sft":
        metrics = train.train_sft(args.model, rows, SFTParams(**config), out / "run")
    else:
        sft_adapter = Path(args.sft_adapter)
        metrics = train.train_dpo(args.model, sft_adapter, rows, DPOParams(**config), out / "run")
    metrics["wall_s"] = round(time.perf_counter() - started, 1)
    metrics["step_s"] = step_s  # each step's seconds: a slow window is one slow step or all slow
    metrics["unsloth_block_compile"] = blocks
    if (out / "profile.json").exists():
        metrics["profile"] = json.loads((out / "profile.json").read_text())
    (out / "metrics.json").write_text(json.dumps(metrics))


def profile_one_step(path: Path, step: int = 4, with_stack: bool = False) -> None:
    """Profile optimizer step `step` + 1 of the run (after warm-up) through one more callback
    through train_and_save: top CUDA kernels, kernel launches, the step's wall time against the
    GPU's busy time (a gap means the step waits on the host), the top host ops, and a Chrome
    trace (`trace.json.gz` beside `path`; `with_stack`: with the Python functions too, to see
    what the host does while the GPU waits). The profiler slows that step: it falls in one of
    the three timing windows, which the median leaves out."""
    import gzip
    import shutil

    import torch
    from transformers import TrainerCallback

    acts = [torch.profiler.ProfilerActivity.CPU, torch.profiler.ProfilerActivity.CUDA]

    class Profile(TrainerCallback):
        prof = None
        started = 0.0

        def on_step_begin(self, args, state, control, **kw):
            if state.global_step == step:
                torch.cuda.synchronize()
                self.prof = torch.profiler.profile(activities=acts, with_stack=with_stack)
                self.prof.__enter__()
                self.started = time.perf_counter()

        def on_step_end(self, args, state, control, **kw):
            if self.prof is None or state.global_step != step + 1:
                return
            torch.cuda.synchronize()
            wall_ms = (time.perf_counter() - self.started) * 1e3
            self.prof.__exit__(None, None, None)
            events = self.prof.key_averages()
            kernels = [e for e in events if e.device_type == torch.autograd.DeviceType.CUDA]
            kernels.sort(key=lambda e: e.self_device_time_total, reverse=True)
            host = sorted(events, key=lambda e: e.self_cpu_time_total, reverse=True)
            trace = path.with_name("trace.json")
            self.prof.export_chrome_trace(str(trace))
            with trace.open("rb") as src, gzip.open(f"{trace}.gz", "wb") as dst:
                shutil.copyfileobj(src, dst)
            trace.unlink()
            path.write_text(json.dumps({
                "kernel_launches": sum(e.count for e in kernels),
                "cuda_ms": sum(e.self_device_time_total for e in kernels) / 1e3,
                "step_wall_ms": wall_ms,
                "top": [{"name": e.key[:90], "calls": e.count, "ms": e.self_device_time_total / 1e3}
                        for e in kernels[:12]],
                "top_host": [{"name": e.key[:90], "calls": e.count,
                              "ms": e.self_cpu_time_total / 1e3} for e in host[:12]]}))
            self.prof = None

    add_to_training(Profile())


def record_step_times() -> list[float]:
    """Seconds of every optimizer step of the run, filled in as it trains."""
    import torch
    from transformers import TrainerCallback

    times: list[float] = []

    class StepTimes(TrainerCallback):
        last = None

        def on_step_end(self, args, state, control, **kw):
            if torch.cuda.is_available():
                torch.cuda.synchronize()
            now = time.perf_counter()
            if self.last is not None:
                times.append(round(now - self.last, 4))
            self.last = now

    add_to_training(StepTimes())
    return times


def record_block_compile() -> dict:
    """At the end of training: the decoder layers counted by the mode Unsloth's per-layer
    compile recorded for them (0 stock forward, 1 compiled with attention inside, 2 compiled with
    flex_attention outside; `checked`: bit 1 no-grad, bit 2 grad calls compiled without error).
    The mode is set at a layer's first call: a call carrying packed_seq_lengths or
    prefix_seg_info (tuneline's packed rows) runs the stock forward whatever the mode says."""
    from transformers import TrainerCallback

    seen: dict = {}

    class BlockModes(TrainerCallback):
        def on_train_end(self, args, state, control, model=None, **kw):
            for module in model.modules() if model is not None else ():
                mode = module.__dict__.get("_unsloth_block_mode")
                if mode is not None:
                    key = f"mode {mode}, checked {module.__dict__.get('_unsloth_block_checked', 0)}"
                    seen[key] = seen.get(key, 0) + 1

    add_to_training(BlockModes())
    return seen


def add_to_training(callback) -> None:
    """Add `callback` to the trainer the product's entry point builds in this process."""
    from tuneline.train import common

    original = common.train_and_save

    def with_callback(trainer, *a, **k):
        trainer.add_callback(callback)
        return original(trainer, *a, **k)

    common.train_and_save = with_callback  # run_sft / run_dpo import it when they run


def run_child(task: str, name: str, config: dict, model: Path, rows: Path, work: Path,
              sft_adapter: Path | None = None, profile: bool | str = False) -> dict:
    out = work / f"{task}-{name}"
    config = dict(config, profile=profile) if profile else config
    out.mkdir(parents=True, exist_ok=True)
    for stale in ("profile.json", "metrics.json", "trace.json.gz"):  # an earlier run's
        (out / stale).unlink(missing_ok=True)
    cmd = [sys.executable, __file__, "--child", task, "--config", json.dumps(config),
           "--model", str(model), "--rows", str(rows), "--out", str(out)]
    if sft_adapter:
        cmd += ["--sft-adapter", str(sft_adapter)]
    res = subprocess.run(cmd, capture_output=True, text=True)
    (out / "stderr.log").write_text(res.stderr)  # the last run's, for TORCH_LOGS and warnings
    if res.returncode != 0:
        return {"error": res.stderr[-1500:]}
    metrics = json.loads((out / "metrics.json").read_text())
    # Unsloth falls back to its stock forward when a block fails to compile, and says so
    metrics["compile_messages"] = [line[:200] for line in res.stderr.splitlines()
                                   if "compile failed" in line][:10]
    # with TORCH_LOGS=recompiles: how often Dynamo recompiled (a graph per row length is slow)
    metrics["recompiles"] = res.stderr.count("[__recompiles] Recompiling")
    return metrics


def n_params(model: Path) -> int:
    cfg = json.loads((model / "config.json").read_text())
    h, i, L, v = cfg["hidden_size"], cfg["intermediate_size"], cfg["num_hidden_layers"], cfg["vocab_size"]
    kv = h // cfg["num_attention_heads"] * cfg["num_key_value_heads"]
    return L * (2 * h * h + 2 * h * kv + 3 * h * i + 2 * h) + 2 * v * h + h


def median_and_spread(values: list[float]) -> tuple[float, float]:
    ordered = sorted(values)
    mid = ordered[len(ordered) // 2] if len(ordered) % 2 else sum(ordered[len(ordered) // 2 - 1:
                                                                          len(ordered) // 2 + 1]) / 2
    return mid, (ordered[-1] - ordered[0]) / mid if mid else float("nan")


def report(task: str, results: dict, baselines: dict, params: int, repeats: int = 1) -> None:
    key = "tokens_per_s_windows" if task == "sft" else "examples_per_s_windows"
    unit = "tok/s" if task == "sft" else "pairs/s"
    of = f"median of {repeats} runs' medians of 3 windows" if repeats > 1 else "median of 3 windows"
    print(f"\n{task.upper()} on a random-init Llama ({params / 1e9:.2f}B params), LoRA r16 all "
          f"linear; {unit}: {of} (spread = max-min / median)")
    print(f"{'configuration':<40} {unit:>8} {'spread':>7} {'tok/s':>8} {'peak GiB':>9} {'MFU':>6} "
          f"{'ratio':>6}  vs")
    medians = {name: median_and_spread(m[key])[0] for name, m in results.items() if key in m}
    for name, m in results.items():
        if key not in m:
            print(f"{name:<40} failed: {(m.get('error') or '?').strip().splitlines()[-1][:150]}")
            continue
        value, spread = median_and_spread(m[key])
        tokens = median_and_spread(m["tokens_per_s_windows"])[0]
        base = baselines.get(name)
        ratio = value / medians[base] if base in medians else float("nan")
        mfu = tokens * 6 * params / PEAK_FLOPS
        shown = f"{value:>8.0f}" if task == "sft" else f"{value:>8.2f}"
        print(f"{name:<40} {shown} {spread:>6.1%} {tokens:>8.0f} {m.get('peak_memory_gib', 0):>9.1f} "
              f"{mfu:>6.1%} {ratio if base else 1.0:>6.2f}  {base or '(baseline)'}")
        if m.get("peak_memory_gib_per_process"):
            print(f"{'':<40} {m['processes']} processes ({m.get('distributed_type')}), peak GiB per "
                  f"GPU {m['peak_memory_gib_per_process']}")
        ckpt = m.get("gradient_checkpointing") or {}
        if ckpt.get("policy") == "auto":
            print(f"{'':<40} auto: {ckpt.get('checkpointed_layers')}/{ckpt.get('layers')} layers "
                  f"checkpointed, predicted peak {ckpt.get('predicted_peak_gib')} GiB "
                  f"({ckpt.get('chosen_because')}; probes, layers: GiB {ckpt.get('probes_gib')})")
    for name, m in results.items():
        if m.get("profile"):
            prof = m["profile"]
            print(f"\nprofile of one step, {name}: {prof['kernel_launches']} kernel launches, "
                  f"{prof['cuda_ms']:.0f} ms of kernels in {prof.get('step_wall_ms', 0):.0f} ms "
                  f"of wall time (profiled)")
            for k in prof["top"]:
                print(f"  {k['ms']:>8.1f} ms {k['calls']:>6}x  {k['name']}")
            print("  host, self time:")
            for k in prof.get("top_host", []):
                print(f"  {k['ms']:>8.1f} ms {k['calls']:>6}x  {k['name']}")
    print(json.dumps(results, indent=1, default=str)[:6000])


SFT_BASE = dict(max_steps=11, batch_size=4, max_length=2048, packing=True, learning_rate=2e-4,
                optimizer="adamw_8bit", checkpoint_every=0, logging_steps=1, warmup=0.0,
                gradient_checkpointing="on")
UNSLOTH = dict(SFT_BASE, backend="unsloth")
# name: (configuration, the baseline its ratio is against)
SFT_CONFIGS = {
    "unsloth wrapped": (dict(UNSLOTH, packing_strategy="wrapped"), None),
    "unsloth bfd native": (dict(UNSLOTH, packed_attention="native"), "unsloth wrapped"),
    "unsloth bfd flex": (UNSLOTH, "unsloth wrapped"),
    "unsloth wrapped, no checkpointing": (dict(UNSLOTH, packing_strategy="wrapped",
                                               gradient_checkpointing="off"), None),
    "unsloth bfd flex, no checkpointing": (dict(UNSLOTH, gradient_checkpointing="off"),
                                           "unsloth wrapped, no checkpointing"),
    # checkpointed layers' inputs kept on the GPU (torch's checkpointing) instead of offloaded:
    # the same step time on the H200 (1.04x tok/s, the gap in the first window) for 1.7 GiB more
    "unsloth bfd flex, checkpoints on the GPU": (dict(UNSLOTH, unsloth_checkpointing=True),
                                                 "unsloth bfd flex"),
    "unsloth bfd flex, auto <= 48 GiB": (dict(UNSLOTH, gradient_checkpointing="auto",
                                              max_memory_gib=48), "unsloth bfd flex"),
    "unsloth bfd flex, auto <= 18 GiB": (dict(UNSLOTH, gradient_checkpointing="auto",
                                              max_memory_gib=18), "unsloth bfd flex"),
    "hf+peft bfd native": (dict(SFT_BASE, backend="trl", packed_attention="native"), None),
    "hf+peft bfd flex": (dict(SFT_BASE, backend="trl"), "hf+peft bfd native"),
    # the same words as 3-turn conversations (loss on every assistant turn): within 5% of the
    # single-turn packing's tokens/s is the goal (docs/conversations.md)
    "unsloth bfd flex, 3 turns": (dict(UNSLOTH, turns=3), "unsloth bfd flex"),
    "hf+peft bfd flex, 3 turns": (dict(SFT_BASE, backend="trl", turns=3), "hf+peft bfd flex"),
}
# 1 GPU vs 2 (DDP, FSDP) with the same per-GPU batch (4 x 2048): scaling = tok/s ratio
SCALE_CONFIGS = {
    "unsloth 1 GPU": (UNSLOTH, None),
    "unsloth 2 GPUs DDP": (dict(UNSLOTH, batch_size=8, distributed={"nproc_per_node": 2}),
                           "unsloth 1 GPU"),
    "hf+peft 1 GPU": (dict(SFT_BASE, backend="trl"), None),
    "hf+peft 2 GPUs DDP": (dict(SFT_BASE, backend="trl", batch_size=8,
                                distributed={"nproc_per_node": 2}), "hf+peft 1 GPU"),
    "hf+peft 2 GPUs FSDP": (dict(SFT_BASE, backend="trl", batch_size=8,
                                 distributed={"nproc_per_node": 2, "strategy": "fsdp"}),
                            "hf+peft 1 GPU"),
}
DPO_BASE = dict(max_steps=11, batch_size=4, max_length=1536, learning_rate=5e-6, beta=0.1,
                optimizer="adamw_8bit", checkpoint_every=0, logging_steps=1, warmup=0.0,
                gradient_checkpointing="on")
TRL, TRL_OFF = "stock trl + peft", "stock trl + peft, no checkpointing"
DPO_CONFIGS = {
    # TRL 1.15 as shipped: PEFT's disable_adapter and TRL's checkpointing switch around every
    # reference forward (tuneline's trl backend replaces both: `train.reference`)
    TRL: (dict(DPO_BASE, backend="trl", stock_trl=True), None),
    "hf+peft": (dict(DPO_BASE, backend="trl"), TRL),
    "hf+peft packed": (dict(DPO_BASE, backend="trl", packing=True), TRL),
    "unsloth fused": (dict(DPO_BASE, backend="unsloth"), TRL),
    "unsloth fused packed": (dict(DPO_BASE, backend="unsloth", packing=True), TRL),
    # tuneline's default checkpointing, given the memory stock TRL peaks at (19.3 GiB, H200)
    "unsloth fused packed, auto <= 19 GiB": (dict(DPO_BASE, backend="unsloth", packing=True,
                                                  gradient_checkpointing="auto",
                                                  max_memory_gib=19), TRL),
    # checkpointed layers' inputs kept on the GPU (torch's checkpointing), not offloaded to
    # pinned CPU memory: 1.09x (median of 3 rounds, H200) for 0.5 GiB more; docs/gpu.md
    "unsloth fused packed, checkpoints on the GPU": (dict(DPO_BASE, backend="unsloth", packing=True,
                                                          unsloth_checkpointing=True),
                                                     "unsloth fused packed"),
    # Unsloth's per-layer compiled blocks switched off: every layer its eager forward
    "unsloth fused packed, eager layers": (dict(DPO_BASE, backend="unsloth", packing=True,
                                                env={"UNSLOTH_BLOCK_COMPILE": "0"}),
                                           "unsloth fused packed"),
    # 8 pairs a forward: padded TRL pads 16 sequences to the longest; packed rows amortise
    # the per-layer host work (launch-bound at 4 pairs) over twice the tokens
    TRL + ", 8 pairs": (dict(DPO_BASE, backend="trl", stock_trl=True, batch_size=8), None),
    "unsloth fused packed, 8 pairs": (dict(DPO_BASE, backend="unsloth", packing=True,
                                           batch_size=8), TRL + ", 8 pairs"),
    # 8-bit AdamW steps LoRA's 448 tensors one by one (23 ms of kernels a step in the profile);
    # fused torch AdamW's fp32 state for 42M LoRA parameters is 336 MB
    "unsloth fused packed, fused AdamW": (dict(DPO_BASE, backend="unsloth", packing=True,
                                               optimizer="adamw_torch_fused"), "unsloth fused packed"),
    TRL_OFF: (dict(DPO_BASE, backend="trl", stock_trl=True, gradient_checkpointing="off"), None),
    "unsloth fused packed, no checkpointing": (dict(DPO_BASE, backend="unsloth", packing=True,
                                                    gradient_checkpointing="off"), TRL_OFF),
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("task", choices=["sft", "dpo", "scale"],
                   help="scale: SFT on 1 GPU vs 2 (needs two GPUs)")
    p.add_argument("--tokenizer", required="--child" not in sys.argv,
                   help="tokenizer folder (the model gets Llama-3.1's vocab size)")
    p.add_argument("--work", default="/tmp/tuneline-gpu-bench")
    p.add_argument("--only", help="configuration names separated by ; (their baselines are added)")
    p.add_argument("--no-baselines", action="store_true",
                   help="with --only: run just those (an A/B of two checkouts prints its own ratio)")
    p.add_argument("--profile", default="", help="configuration names separated by ; to profile")
    p.add_argument("--profile-stack", action="store_true",
                   help="profile Python functions too (the trace shows what the host runs)")
    p.add_argument("--arch", choices=["llama-3.1-8b", "tiny"], default="llama-3.1-8b")
    p.add_argument("--prompt-tokens", type=int, default=60,
                   help="median prompt length of the made-up rows (DPO shares each pair's prompt)")
    p.add_argument("--n-rows", type=int, default=2000,
                   help="made-up rows (fewer: less tokenizing before each run; the order of the "
                        "batches is the same in every configuration of a call)")
    p.add_argument("--repeats", type=int, default=1,
                   help="runs of each configuration, in rounds of all of them (fresh processes)")
    p.add_argument("--warm-up", action="store_true",
                   help="first a short run of the first configuration, not counted: on a fresh "
                        "GPU host the first stock TRL process ran two of its steps at 3-4 s instead "
                        "of ~1.3 (the same two in both first runs seen, in no later one)")
    p.add_argument("--steps", type=int, help="override max_steps (>= 5: 2 warm-up, 3 windows)")
    p.add_argument("--set", default="{}", help='JSON merged into every configuration, e.g. '
                                               '\'{"optimizer": "adamw_torch"}\' on CPU')
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--config"), p.add_argument("--model"), p.add_argument("--rows")
    p.add_argument("--out"), p.add_argument("--sft-adapter")
    args = p.parse_args()
    if args.child:
        return child(args)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    arch = LLAMA_31_8B if args.arch == "llama-3.1-8b" else TINY
    model = build_model(args.tokenizer, work / f"{args.arch}-random", arch)
    configs = {"sft": SFT_CONFIGS, "dpo": DPO_CONFIGS, "scale": SCALE_CONFIGS}[args.task]
    if args.only:
        wanted = set(args.only.split(";"))
        if not args.no_baselines:
            wanted |= {configs[k][1] for k in wanted if configs[k][1]}
        configs = {k: v for k, v in configs.items() if k in wanted}
    profiled = set(filter(None, args.profile.split(";")))
    task = "dpo" if args.task == "dpo" else "sft"
    rows_of = {}  # per number of turns: the same made-up text, cut into that many exchanges
    for turns in sorted({cfg.get("turns", 1) for cfg, _ in configs.values()}):
        rows_of[turns] = work / f"{task}-rows-{turns}.json"
        rows_of[turns].write_text(json.dumps(make_rows(task, args.n_rows, prompt_tokens=args.prompt_tokens,
                                                       turns=turns)))
    rows = rows_of[1] if 1 in rows_of else next(iter(rows_of.values()))
    sft_adapter = fresh_adapter(model, work / "sft-adapter") if args.task == "dpo" else None
    runs: dict[str, list[dict]] = {name: [] for name in configs}
    if args.warm_up:
        name, (cfg, _) = next(iter(configs.items()))
        got = run_child(task, "warm-up", dict(cfg, max_steps=6, **json.loads(args.set)), model,
                        rows, work, sft_adapter)
        print(f"warm-up, not counted ({name}, 6 steps): {got.get('error') or got.get('step_s')}",
              flush=True)
    # rounds of every configuration in turn (A B A B ...): a slow stretch of a shared host then
    # lands on both sides of a ratio instead of on one configuration's every window
    for round_ in range(args.repeats):
        for name, (cfg, _) in configs.items():
            cfg = dict(cfg, max_steps=args.steps or cfg["max_steps"], **json.loads(args.set))
            profile = round_ == 0 and name in profiled and ("stack" if args.profile_stack else True)
            got = run_child(task, name.replace(" ", "_").replace(",", ""), cfg, model,
                            rows_of[cfg.get("turns", 1)], work, sft_adapter, profile=profile)
            runs[name].append(got)  # as it comes: a call cut off at its time limit keeps them
            print(f"{name} (run {round_ + 1}): {got.get('error') or got.get('examples_per_s_windows')}"
                  f" per s, {got.get('peak_memory_gib')} GiB, wall {got.get('wall_s')} s, steps (s) "
                  f"{got.get('step_s')}, compiled blocks {got.get('unsloth_block_compile')}, "
                  f"recompiles {got.get('recompiles')}",
                  flush=True)
    print(f"tokenizer: {Path(args.tokenizer).resolve()} (its ids index the random-init model); "
          f"median prompt {args.prompt_tokens} tokens")
    results = {name: merge_runs(got) for name, got in runs.items() if got}
    report(task, results, {k: v[1] for k, v in configs.items()}, n_params(model), args.repeats)


def merge_runs(runs: list[dict]) -> dict:
    """One configuration's runs as one result: with several runs its windows are the runs'
    medians (each run a fresh process), their own windows kept under `runs_windows`."""
    ok = [r for r in runs if "examples_per_s_windows" in r]
    if len(runs) == 1 or not ok:
        return runs[0]
    merged = dict(ok[0], profile=next((r["profile"] for r in runs if r.get("profile")), None))
    for key in ("examples_per_s_windows", "tokens_per_s_windows"):
        merged[key] = [median_and_spread(r[key])[0] for r in ok]
    merged["runs_windows"] = [r["examples_per_s_windows"] for r in ok]
    if all(r.get("peak_memory_gib") for r in ok):  # no GPU: no peak
        merged["peak_memory_gib"] = max(r["peak_memory_gib"] for r in ok)
    merged["failed_runs"] = [r["error"] for r in runs if "error" in r]
    return merged


def fresh_adapter(model: Path, out: Path) -> Path:
    """An untrained LoRA for DPO's SFT adapter (B = 0: merging it changes nothing), made on a
    one-layer model of the same widths (adapter layers it does not name stay untrained too)."""
    if (out / "adapter_config.json").exists():
        return out
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import LlamaConfig, LlamaForCausalLM

    from tuneline.train.unsloth_backend import ALL_LINEAR

    cfg = LlamaConfig.from_pretrained(model)
    cfg.num_hidden_layers = 1
    lora = LoraConfig(r=16, lora_alpha=16, target_modules=ALL_LINEAR, task_type="CAUSAL_LM")
    peft = get_peft_model(LlamaForCausalLM(cfg).to(torch.bfloat16), lora)
    peft.peft_config["default"].base_model_name_or_path = str(model)
    peft.save_pretrained(out)
    return out


if __name__ == "__main__":
    main()
