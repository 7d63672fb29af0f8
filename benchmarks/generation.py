"""Where the quickstart's time goes: pair generation on CPU, by weight precision and batch size.

The quickstart's generate step answers questions about the sample corpus's chunks with the
bundled SmolLM2-135M (transformers backend); on CPU it is prefill-bound (16 prompts of ~320
tokens: ~9 s of prefill for ~7 s of 60 decode steps). This runs the answer pass on the real
chunks for each (dtype, batch size), without the call cache, and prints answers/s, generated
tokens/s and the ratio against float32 at the configs' batch size (16). Median of --repeats.

    python benchmarks/generation.py [--prompts 48] [--dtypes float32 bfloat16] [--batch-sizes 8 16 32]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from tuneline.curation.generate import answer_chat
from tuneline.documents.ingest import chunk_documents, read_sources, scan_sources
from tuneline.llm import make_llm
from tuneline.params import IngestParams, LLMParams

SAMPLE = Path(__file__).parents[1] / "data" / "sample"


def chats(n: int) -> list:
    files, _ = scan_sources(SAMPLE, IngestParams())
    docs = read_sources(SAMPLE, files, IngestParams()).documents
    chunks = chunk_documents(docs, IngestParams())[:n]
    return [answer_chat(c.text, "What does this part of the text explain?") for c in chunks]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--prompts", type=int, default=48)
    ap.add_argument("--batch-sizes", type=int, nargs="+", default=[16])
    ap.add_argument("--dtypes", nargs="+", default=["float32", "bfloat16"])
    ap.add_argument("--max-tokens", type=int, default=110)  # answer_max_tokens in the configs
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    prompts = chats(args.prompts)
    results = {}
    for dtype in args.dtypes:
        for bs in args.batch_sizes:
            llm = make_llm(LLMParams(batch_size=bs, cache=False, dtype=dtype))
            llm.generate(prompts[:bs], max_new_tokens=8, desc="warm-up")
            times, tokens = [], []
            for _ in range(args.repeats):
                before = llm.usage.get("completion_tokens", 0)
                t = time.perf_counter()
                llm.generate(prompts, max_new_tokens=args.max_tokens, temperature=0.5,
                             desc=f"{dtype} bs {bs}")
                times.append(time.perf_counter() - t)
                tokens.append(llm.usage["completion_tokens"] - before)
            secs = statistics.median(times)
            results[dtype, bs] = secs
            print(f"{dtype:>9} batch {bs:>3}: {secs:6.1f} s  {len(prompts) / secs:5.2f} answers/s  "
                  f"{statistics.median(tokens) / secs:6.1f} generated tokens/s", flush=True)
    base = results.get(("float32", 16))
    if base:
        for (dtype, bs), secs in results.items():
            print(f"{dtype} batch {bs} / float32 batch 16: {base / secs:.2f}x answers/s")


if __name__ == "__main__":
    main()
