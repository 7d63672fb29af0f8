"""GPU training throughput: tuneline's Unsloth backend vs its TRL + PEFT (Hugging Face) backend,
measured in the same run on the same data, with the product's own train_sft / train_dpo.

The model is the Llama-3.1-8B architecture with random weights (throughput does not depend on
weight values; 16 GB of real weights need not be shipped). The data is realistic chat: prompts
and answers with log-normal lengths (median ~60 and ~300 tokens, answers up to ~2k tokens).
Each configuration runs in its own process (`import unsloth` patches transformers and TRL for
the rest of a process), one after another on the same GPU.

    python benchmarks/gpu_train.py --tokenizer DIR sft          # HF+PEFT vs Unsloth, knobs
    python benchmarks/gpu_train.py --tokenizer DIR dpo          # pairs/s, TRL vs Unsloth

Reported: tokens/s (non-padding input tokens per second after 2 warm-up steps), peak GPU
memory, MFU = tokens/s x 6 x parameters / 989 TFLOP/s (H100 SXM dense bf16; the usual 6N
convention, although frozen LoRA base weights skip their weight gradients), and each
configuration's ratio to the HF+PEFT baseline.
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


def make_rows(task: str, n: int, seed: int = 0) -> list[dict]:
    import random

    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        prompt = [{"role": "user", "content": text(rng, 60, 400)}]
        if task == "sft":
            rows.append({"prompt": prompt,
                         "completion": [{"role": "assistant", "content": text(rng, 300, 1600)}]})
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
    env = config.pop("env", {})
    os.environ.update(env)
    rows = json.loads(Path(args.rows).read_text())
    out = Path(args.out)
    started = time.perf_counter()
    if args.task == "sft":
        metrics = train.train_sft(args.model, rows, SFTParams(**config), out / "run")
    else:
        sft_adapter = Path(args.sft_adapter)
        metrics = train.train_dpo(args.model, sft_adapter, rows, DPOParams(**config), out / "run")
    metrics["wall_s"] = round(time.perf_counter() - started, 1)
    (out / "metrics.json").write_text(json.dumps(metrics))


def run_child(task: str, name: str, config: dict, model: Path, rows: Path, work: Path,
              sft_adapter: Path | None = None) -> dict:
    out = work / f"{task}-{name}"
    out.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, __file__, "--child", task, "--config", json.dumps(config),
           "--model", str(model), "--rows", str(rows), "--out", str(out)]
    if sft_adapter:
        cmd += ["--sft-adapter", str(sft_adapter)]
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        return {"error": res.stderr[-1500:]}
    return json.loads((out / "metrics.json").read_text())


def n_params(model: Path) -> int:
    cfg = json.loads((model / "config.json").read_text())
    h, i, L, v = cfg["hidden_size"], cfg["intermediate_size"], cfg["num_hidden_layers"], cfg["vocab_size"]
    kv = h // cfg["num_attention_heads"] * cfg["num_key_value_heads"]
    return L * (2 * h * h + 2 * h * kv + 3 * h * i + 2 * h) + 2 * v * h + h


def report(task: str, results: dict, params: int) -> None:
    base = results.get("hf+peft", {})
    key = "tokens_per_s" if task == "sft" else "examples_per_s"
    print(f"\n{task.upper()} on a random-init Llama ({params / 1e9:.2f}B params), LoRA r16 all linear")
    print(f"{'configuration':<34} {'tok/s':>8} {'pairs/s' if task == 'dpo' else 'ex/s':>8} "
          f"{'peak GiB':>9} {'MFU':>6} {'vs HF':>6}  steps")
    for name, m in results.items():
        if "error" in m:
            print(f"{name:<34} failed: {m['error'].splitlines()[-1] if m['error'] else '?'}")
            continue
        ratio = m[key] / base[key] if base.get(key) else float("nan")
        mfu = m["tokens_per_s"] * 6 * params / PEAK_FLOPS
        print(f"{name:<34} {m['tokens_per_s']:>8.0f} {m['examples_per_s']:>8.2f} "
              f"{m.get('peak_memory_gib', 0):>9.1f} {mfu:>6.1%} {ratio:>6.2f}  {m['measured_steps']}")
    print(json.dumps(results, indent=1, default=str)[:4000])


SFT_BASE = dict(max_steps=12, batch_size=4, max_length=2048, packing=True, learning_rate=2e-4,
                optimizer="adamw_torch", checkpoint_every=0, logging_steps=1, warmup=0.0)
SFT_CONFIGS = {
    "hf+peft": dict(SFT_BASE, backend="trl"),
    "unsloth": dict(SFT_BASE, backend="unsloth"),
    "unsloth adamw_8bit": dict(SFT_BASE, backend="unsloth", optimizer="adamw_8bit"),
    "unsloth 8x2048 adamw_8bit": dict(SFT_BASE, backend="unsloth", batch_size=8,
                                      optimizer="adamw_8bit"),
    "unsloth 2x8192 adamw_8bit": dict(SFT_BASE, backend="unsloth", batch_size=2, max_length=8192,
                                      optimizer="adamw_8bit"),
    "unsloth no packing": dict(SFT_BASE, backend="unsloth", packing=False),
    "hf+peft wrapped": dict(SFT_BASE, backend="trl", packing_strategy="wrapped"),
    "unsloth wrapped adamw_8bit": dict(SFT_BASE, backend="unsloth", packing_strategy="wrapped",
                                       optimizer="adamw_8bit"),
    "unsloth wrapped 8x2048 adamw_8bit": dict(SFT_BASE, backend="unsloth", batch_size=8,
                                              packing_strategy="wrapped", optimizer="adamw_8bit"),
}
DPO_BASE = dict(max_steps=10, batch_size=4, max_length=1536, learning_rate=5e-6, beta=0.1,
                optimizer="adamw_torch", checkpoint_every=0, logging_steps=1, warmup=0.0)
DPO_CONFIGS = {
    "hf+peft": dict(DPO_BASE, backend="trl"),
    "unsloth": dict(DPO_BASE, backend="unsloth", fused_preference_loss=False),
    "unsloth fused preference loss": dict(DPO_BASE, backend="unsloth", fused_preference_loss=True),
    "unsloth fused adamw_8bit bs8": dict(DPO_BASE, backend="unsloth", batch_size=8,
                                         optimizer="adamw_8bit"),
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("task", choices=["sft", "dpo"])
    p.add_argument("--tokenizer", help="tokenizer folder (the model gets Llama-3.1's vocab size)")
    p.add_argument("--work", default="/tmp/tuneline-gpu-bench")
    p.add_argument("--only", help="comma-separated configuration names")
    p.add_argument("--arch", choices=["llama-3.1-8b", "tiny"], default="llama-3.1-8b")
    p.add_argument("--steps", type=int, help="override max_steps")
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
    configs = SFT_CONFIGS if args.task == "sft" else DPO_CONFIGS
    if args.only:
        configs = {k: v for k, v in configs.items() if k in args.only.split(",")}
    if args.steps:
        configs = {k: dict(v, max_steps=args.steps) for k, v in configs.items()}
    rows = work / f"{args.task}-rows.json"
    rows.write_text(json.dumps(make_rows(args.task, 2000)))
    sft_adapter = None
    if args.task == "dpo":  # DPO starts from an SFT adapter: a short Unsloth SFT run makes one
        m = run_child("sft", "for-dpo", dict(SFT_BASE, backend="unsloth", max_steps=2), model,
                      _sft_rows(work), work)
        assert "error" not in m, m
        sft_adapter = work / "sft-for-dpo" / "run" / "adapter"
    results = {name: run_child(args.task, name.replace(" ", "_"), cfg, model, rows, work,
                               sft_adapter) for name, cfg in configs.items()}
    report(args.task, results, n_params(model))


def _sft_rows(work: Path) -> Path:
    path = work / "sft-rows.json"
    if not path.exists():
        path.write_text(json.dumps(make_rows("sft", 200)))
    return path


if __name__ == "__main__":
    main()
