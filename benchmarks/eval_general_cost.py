"""What the general-ability check adds to an evaluation on the CPU, with a finished run's model.

Evaluates base + tuned (the run's SFT and DPO adapters) on the run's test split, as the evaluate
step does, with the general check off and with each listed setting, in the same process
(median of `--repeats` >= 3; the models' replies are greedy, so each repeat does the same work):

    python benchmarks/eval_general_cost.py RUN_NAME                    # a quickstart run
    python benchmarks/eval_general_cost.py RUN_NAME --settings 50x96 40x80

Prints seconds per setting, the added seconds and the ratio to the run without the check, and
instruction_following of both models (deterministic: the same every repeat).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1]))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run")
    p.add_argument("--settings", nargs="+", default=["40x80", "50x96"],
                   help="PROMPTSxNEW_TOKENS of the general check")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--base-model", default="bundled:smollm2-135m-instruct")
    args = p.parse_args()

    from zenml.client import Client

    from tuneline.llm import make_llm
    from tuneline.params import EvalParams, JudgeParams, LLMParams
    from tuneline.records import Pair, from_frame
    from tuneline.ship import evaluate, general_check

    run = Client().get_pipeline_run(args.run)
    test = from_frame(run.steps["split_dataset"].outputs["test_pairs"][0].load(), Pair)
    adapters = [run.steps["sft"].outputs["sft_adapter"][0].load(),
                run.steps["dpo"].outputs["dpo_adapter"][0].load()]
    llm = LLMParams(backend="transformers", model=args.base_model, batch_size=16)
    judge = make_llm(llm)
    base = args.base_model

    def once(n: int, tokens: int) -> tuple[float, dict]:
        params = EvalParams(max_examples=24, max_new_tokens=96, general_prompts=n,
                            general_max_new_tokens=tokens, batch_size=50)
        general = general_check.load_prompts(None, n)[0] if n else []
        t = time.perf_counter()
        metrics, _ = evaluate.evaluate_candidates(
            [("base", base, []), ("tuned", base, adapters)],
            evaluate.model_loader({"base": base, "tuned": base}, llm, params), test, general,
            judge, JudgeParams(), params)
        return time.perf_counter() - t, {k: m.get("instruction_following") for k, m in metrics.items()}

    settings = [(0, 1)] + [tuple(int(x) for x in s.split("x")) for s in args.settings]
    times: dict = {s: [] for s in settings}
    scores: dict = {}
    for _ in range(args.repeats):  # interleaved, so drift in the machine's speed hits all alike
        for s in settings:
            seconds, scores[s] = once(*s)
            times[s].append(seconds)
    off = statistics.median(times[(0, 1)])
    print(f"run {args.run}: {len(test)} test pairs, base + tuned, median of {args.repeats}")
    print(f"  general check off          {off:6.1f} s")
    for s in settings[1:]:
        t = statistics.median(times[s])
        print(f"  {s[0]} prompts x {s[1]:>3} tokens   {t:6.1f} s  (+{t - off:.1f} s, {t / off:.2f}x)"
              f"  instruction_following {scores[s]}")


if __name__ == "__main__":
    main()
