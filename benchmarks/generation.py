"""Where the quickstart's time goes: pair generation on CPU by batch size, same prompts, same run.

The quickstart's generate step answers questions about the sample corpus's chunks with the
bundled SmolLM2-135M (transformers backend). This runs its answer pass (the longer one) on the
real chunks at each batch size, without the call cache, and prints answers/s, generated
tokens/s and the ratio against the configs' batch size (16). Median of --repeats runs.

    python benchmarks/generation.py [--prompts 48] [--batch-sizes 4 8 16 32] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from tuneline.generate import answer_chat
from tuneline.ingest import chunk_documents, read_documents, scan_folder
from tuneline.llm import make_llm
from tuneline.params import IngestParams, LLMParams

SAMPLE = Path(__file__).parents[1] / "data" / "sample"


def chats(n: int) -> list:
    files, _ = scan_folder(SAMPLE, IngestParams().extensions)
    docs, _ = read_documents(SAMPLE, files, IngestParams())
    chunks = chunk_documents(docs, IngestParams())[:n]
    return [answer_chat(c.text, "What does this part of the text explain?") for c in chunks]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--prompts", type=int, default=48)
    ap.add_argument("--batch-sizes", type=int, nargs="+", default=[4, 8, 16, 32])
    ap.add_argument("--max-tokens", type=int, default=110)  # answer_max_tokens in the configs
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    prompts = chats(args.prompts)
    results = {}
    for bs in args.batch_sizes:
        llm = make_llm(LLMParams(batch_size=bs, cache=False))
        llm.generate(prompts[:bs], max_new_tokens=8, desc="warm-up")
        times, tokens = [], []
        for _ in range(args.repeats):
            before = llm.usage.get("completion_tokens", 0)
            t = time.perf_counter()
            llm.generate(prompts, max_new_tokens=args.max_tokens, temperature=0.5, desc=f"bs {bs}")
            times.append(time.perf_counter() - t)
            tokens.append(llm.usage["completion_tokens"] - before)
        secs = statistics.median(times)
        results[bs] = (secs, statistics.median(tokens) / secs)
        print(f"batch {bs:>3}: {secs:6.1f} s  {len(prompts) / secs:5.2f} answers/s  "
              f"{results[bs][1]:6.1f} generated tokens/s", flush=True)
    base = results.get(16)
    if base:
        for bs, (secs, _) in results.items():
            print(f"batch {bs:>3} / batch 16: {base[0] / secs:.2f}x answers/s")


if __name__ == "__main__":
    main()
