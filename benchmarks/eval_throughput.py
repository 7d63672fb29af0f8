"""Evaluation throughput: what one evaluated model costs, on the GPU shape production trains.

The evaluate step runs, per model: greedy answers to the test prompts, the answer loss of the
reference answers, and greedy replies to the general prompts (tuneline/ship/evaluate.py). This
measures each part with the product's own code on the Llama-3.1-8B architecture with random
weights (speed does not depend on weight values), with a fixed output length (EOS suppressed
until `--new-tokens`), gsm8k-sized prompts (~100 tokens) and ~150-token reference answers:

- answer loss, one pair per forward (the loop the step had) vs batched (`loss_batch_size`):
  the ratio of the two, measured in the same run;
- generation prompts/s at the evaluation's batch size;
- the whole evaluation of one model (test answers + loss + general prompts): items/s.

Median of `--repeats` (>= 3) runs each. lm-evaluation-harness served by vLLM does ~200 gsm8k
items/s on an H100 (the reference the evaluation is compared with; vLLM is not installable on
the GPU hosts here).

    python benchmarks/eval_throughput.py --tokenizer DIR            # GPU, Llama-3.1-8B shape
    python benchmarks/eval_throughput.py --tokenizer DIR --arch tiny --n-test 8 --n-general 4
    python benchmarks/eval_throughput.py --model bundled:smollm2-135m-instruct \
        --harness-data DIR                                          # CPU, + lm-eval gsm8k

`--harness-data DIR` (train.jsonl and test.jsonl in gsm8k's format) also times
lm-evaluation-harness's gsm8k task on the same model through `evaluation.benchmarks` (5-shot,
its own prompt and filters), items/s.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.gpu_train import LLAMA_31_8B, TINY, WORDS, build_model  # noqa: E402


def words(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(int(n * 0.8)))  # ~1.25 tokens per word


def timed(fn, repeats: int) -> tuple[float, object]:
    import torch

    times, out = [], None
    for _ in range(repeats):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        t = time.perf_counter()
        out = fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tokenizer", help="tokenizer folder for the random-init model")
    p.add_argument("--model", help="an existing model (a path or bundled:NAME) instead")
    p.add_argument("--harness-data", help="folder with gsm8k-format train.jsonl and test.jsonl, "
                                          "or `synthetic`: templated gsm8k-shaped problems")
    p.add_argument("--arch", choices=["llama-3.1-8b", "tiny"], default="llama-3.1-8b")
    p.add_argument("--work", default="/tmp/tuneline-eval-bench")
    p.add_argument("--n-test", type=int, default=64)
    p.add_argument("--n-general", type=int, default=50)
    p.add_argument("--new-tokens", type=int, default=128)
    p.add_argument("--batch-size", type=int, default=64, help="evaluation.batch_size")
    p.add_argument("--loss-batch-size", type=int, default=16, help="evaluation.loss_batch_size")
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()

    from tuneline.params import EvalParams, LLMParams
    from tuneline.records import Pair
    from tuneline.ship import evaluate, general_check
    from tuneline.train.formats import user_chat

    model_dir = args.model or build_model(args.tokenizer, Path(args.work) / f"{args.arch}-random",
                                          LLAMA_31_8B if args.arch == "llama-3.1-8b" else TINY)
    params = EvalParams(batch_size=args.batch_size, loss_batch_size=args.loss_batch_size,
                        max_new_tokens=args.new_tokens, general_max_new_tokens=args.new_tokens,
                        general_prompts=args.n_general, max_examples=args.n_test)
    llm, model, tok = evaluate.model_loader({"base": str(model_dir)}, LLMParams(), params)("base", [])
    model.generation_config.min_new_tokens = args.new_tokens  # a fixed output length
    rng = random.Random(0)
    test = [Pair(f"p{i}", "", "bench", words(rng, 100) + "?", words(rng, 150))
            for i in range(args.n_test)]
    general, _ = general_check.load_prompts(None, args.n_general)

    def answers():
        return llm.generate([user_chat(t.instruction) for t in test], max_new_tokens=args.new_tokens,
                            temperature=0.0, desc="answers")

    def loss(batch: int):
        return lambda: evaluate.completion_losses(model, tok, test, batch)

    def general_replies():
        return llm.generate([user_chat(g["prompt"]) for g in general],
                            max_new_tokens=args.new_tokens, temperature=0.0, desc="general")

    answers()  # warm-up (kernels, allocator)
    t_loop, single = timed(loss(1), args.repeats)
    t_batch, batched = timed(loss(args.loss_batch_size), args.repeats)
    drift = max(abs(a - b) / max(abs(b), 1e-9) for (a, _), (b, _) in zip(batched, single))
    t_answers, _ = timed(answers, args.repeats)
    t_general, _ = timed(general_replies, args.repeats)
    device = str(model.device)
    whole = t_answers + t_batch + t_general
    items = args.n_test + args.n_general
    what = (args.model if args.model else f"{args.arch} (random init, bf16 on GPU), tokenizer "
            f"{Path(args.tokenizer).resolve()}")
    print(f"device {device}; model {what}; {args.n_test} test pairs, {args.n_general} general "
          f"prompts, {args.new_tokens} new tokens each; median of {args.repeats}")
    print(f"answer loss   one pair per forward {args.n_test / t_loop:8.1f} pairs/s   batched "
          f"({args.loss_batch_size}) {args.n_test / t_batch:8.1f} pairs/s   ratio "
          f"{t_loop / t_batch:.2f}x   (largest relative difference {drift:.1e})")
    print(f"generation    test answers {args.n_test / t_answers:8.1f} prompts/s   general "
          f"{args.n_general / t_general:8.1f} prompts/s (batch {args.batch_size})")
    print(f"one model     {items / whole:8.1f} items/s over {items} items ({whole:.1f} s); "
          "reference: lm-eval + vLLM ~200 gsm8k items/s on an H100")
    if args.harness_data:
        from tuneline.params import HarnessTask
        from tuneline.ship import harness

        data = Path(args.harness_data)
        if args.harness_data == "synthetic":  # gsm8k-shaped templated word problems
            data = Path(args.work) / "gsm8k-synthetic"
            data.mkdir(parents=True, exist_ok=True)
            for split, n in (("train", 20), ("test", args.n_test)):
                with open(data / f"{split}.jsonl", "w") as f:
                    for i in range(n):
                        a, b, c = rng.randint(2, 40), rng.randint(2, 40), rng.randint(2, 9)
                        q = (f"A shop sells {a} red pens and {b} blue pens each day. After {c} "
                             f"days, how many pens has it sold in all?")
                        ans = (f"Each day it sells {a} + {b} = <<{a}+{b}={a + b}>>{a + b} pens. "
                               f"In {c} days it sells {c} * {a + b} = <<{c}*{a + b}="
                               f"{c * (a + b)}>>{c * (a + b)} pens.\n#### {c * (a + b)}")
                        f.write(json.dumps({"question": q, "answer": ans}) + "\n")
        task = HarnessTask(task="gsm8k", data_files={"train": str(data / "train.jsonl"),
                                                     "test": str(data / "test.jsonl")},
                           limit=args.n_test, max_new_tokens=args.new_tokens)
        t_harness, (scores, rows) = timed(lambda: harness.run(model, tok, [task], args.batch_size),
                                          args.repeats)
        print(f"lm-eval gsm8k {len(rows) / t_harness:8.1f} items/s over {len(rows)} items, 5-shot "
              f"({t_harness:.1f} s, exact_match {scores['benchmark:gsm8k']}; the task index "
              "takes part of it)")


if __name__ == "__main__":
    main()
