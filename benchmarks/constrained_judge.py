"""The text judge on the in-process model: free decoding against JSON-schema constrained decoding.

On pairs read by hand (benchmarks/labelled/*.jsonl: a real run's pairs, each with its chunk
and a `usable` label), the bundled judge scores each pair with `judge.method: text`, once
parsing what it writes freely and once with its decoding held to `judge.SCORE_SCHEMA`
(tuneline/llm/constrained.py); no retries, so the share of replies that give a score is the
decoding's own. Printed per mode: replies that parse as a 1-5 score, the AUROC of usable vs
unusable pairs over the parsed scores, and seconds (median of `--repeats`, modes alternated in
one process, no call cache). The logprob judge (the default) on the same pairs is the
baseline for separation.

    .venv/bin/python benchmarks/constrained_judge.py --pairs 48 --repeats 3
"""

from __future__ import annotations

import argparse
import glob
import json
import random
import statistics
import time
from pathlib import Path

from tuneline.curation import judge
from tuneline.llm import make_llm
from tuneline.params import JudgeParams, LLMParams

LABELLED = Path(__file__).parent / "labelled"


def labelled(n: int, seed: int) -> list[dict]:
    """`n` labelled pairs with chunks, half usable and half not where there are enough."""
    rows = [json.loads(x) for f in sorted(glob.glob(str(LABELLED / "*.jsonl")))
            for x in Path(f).read_text(encoding="utf-8").splitlines() if x.strip()]
    rows = [r for r in rows if "usable" in r and r.get("chunk") and not r.get("history")]
    rng = random.Random(seed)
    good = [r for r in rows if r["usable"]]
    bad = [r for r in rows if not r["usable"]]
    return rng.sample(good, min(n // 2, len(good))) + rng.sample(bad, min(n - n // 2, len(bad)))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", type=int, default=48)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    rows = labelled(args.pairs, args.seed)
    items = [(r["question"], r["answer"], r["chunk"]) for r in rows]
    usable = [bool(r["usable"]) for r in rows]
    llm = make_llm(LLMParams(cache=False))
    print(f"{len(rows)} labelled pairs ({sum(usable)} usable), judge {llm.name} ({llm.dtype})")

    def run(method: str, schema: bool):
        original = judge.SCORE_SCHEMA
        if not schema:  # the free mode: the same prompt, nothing asked of the decoder
            judge.SCORE_SCHEMA = None
        try:
            start = time.perf_counter()
            verdicts = judge.score(llm, items, JudgeParams(method=method, retries=0))
            return time.perf_counter() - start, verdicts
        finally:
            judge.SCORE_SCHEMA = original

    modes = {"text, free": ("text", False), "text, constrained": ("text", True),
             "logprobs (default)": ("logprobs", False)}
    seconds = {m: [] for m in modes}
    verdicts = {}
    for _ in range(args.repeats):
        for m, (method, schema) in modes.items():
            s, verdicts[m] = run(method, schema)
            seconds[m].append(s)
    base = statistics.median(seconds["text, free"])
    print(f"{'mode':22} {'scored':>9} {'AUROC':>6} {'s (median)':>11} {'vs free':>8}  spread")
    for m in modes:
        scores = [s for s, _ in verdicts[m]]
        got = [(s, u) for s, u in zip(scores, usable) if s is not None]
        a = judge.auroc([s for s, u in got if u], [s for s, u in got if not u])
        med = statistics.median(seconds[m])
        spread = (max(seconds[m]) - min(seconds[m])) / med
        print(f"{m:22} {len(got):4}/{len(rows):<4} {'-' if a is None else f'{a:.2f}':>6} "
              f"{med:11.1f} {med / base:7.2f}x  {spread:.0%}")
    print("first free replies:", [said[:60] for _, said in verdicts["text, free"][:3]])


if __name__ == "__main__":
    main()
