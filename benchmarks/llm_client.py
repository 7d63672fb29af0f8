"""LLM backends, each against a baseline measured in the same run.

1. openai backend vs a plain concurrent load generator (raw HTTP, same prompts, same
   concurrency) against one llama.cpp server: completion tokens/s and their ratio.
2. A fully cached regeneration: calls made the second time (should be 0).
3. transformers backend on CPU: batched vs one prompt at a time, generated tokens/s.

    python benchmarks/llm_client.py [--prompts 32] [--max-tokens 64] [--concurrency 4]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tuneline.llm import local_server, make_llm
from tuneline.params import LLMParams
from tuneline.train.formats import user_chat


def plain_load(url: str, chats, max_tokens: int, concurrency: int) -> int:
    def one(chat) -> int:
        body = json.dumps({"model": local_server.MODEL_ALIAS, "messages": chat, "max_tokens": max_tokens,
                           "temperature": 0.0, "seed": 0}).encode()
        req = urllib.request.Request(f"{url}/chat/completions", body, {"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=300) as r:
            return json.load(r)["usage"]["completion_tokens"]

    with ThreadPoolExecutor(concurrency) as pool:
        return sum(pool.map(one, chats))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--prompts", type=int, default=32)
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--concurrency", type=int, default=4)
    args = ap.parse_args()
    chats = [user_chat(f"Explain in two sentences why fine-tuning topic number {i} matters.")
             for i in range(args.prompts)]
    tmp = Path(tempfile.mkdtemp())
    os.environ["TUNELINE_CALL_CACHE"] = str(tmp / "calls.sqlite")
    port = local_server.free_port()
    proc = local_server.start(port, tmp / "server.log")
    url = f"http://127.0.0.1:{port}/v1"
    try:
        plain_load(url, chats[:2], 8, 1)  # warm-up
        t0 = time.perf_counter()
        plain_tokens = plain_load(url, chats, args.max_tokens, args.concurrency)
        plain_s = time.perf_counter() - t0

        params = dict(backend="openai", base_url=url, model=local_server.MODEL_ALIAS,
                      api_key_env="NO_KEY_NEEDED", concurrency=args.concurrency)
        ours = make_llm(LLMParams(**params, cache=False))
        t0 = time.perf_counter()
        ours.generate(chats, max_new_tokens=args.max_tokens)
        ours_s = time.perf_counter() - t0
        ours_tokens = ours.usage["completion_tokens"]

        cached = make_llm(LLMParams(**params))
        cached.generate(chats, max_new_tokens=args.max_tokens)
        again = make_llm(LLMParams(**params))
        t0 = time.perf_counter()
        again.generate(chats, max_new_tokens=args.max_tokens)
        cached_s = time.perf_counter() - t0
    finally:
        proc.terminate()
        proc.wait()

    print(f"llama.cpp server, {args.prompts} prompts x {args.max_tokens} tokens, concurrency {args.concurrency}")
    print(f"  plain load generator : {plain_tokens / plain_s:7.1f} tok/s ({plain_tokens} tokens, {plain_s:.1f} s)")
    print(f"  tuneline openai      : {ours_tokens / ours_s:7.1f} tok/s ({ours_tokens} tokens, {ours_s:.1f} s)")
    print(f"  ratio                : {(ours_tokens / ours_s) / (plain_tokens / plain_s):.3f}")
    print(f"  cached regeneration  : {again.usage.get('calls', 0)} calls, {again.usage['cached_calls']} "
          f"from cache, {cached_s:.3f} s")

    local = [user_chat(f"Write one sentence about topic {i}.") for i in range(16)]
    rates = {}
    for batch in (16, 1):
        llm = make_llm(LLMParams(batch_size=batch, cache=False))
        t0 = time.perf_counter()
        llm.generate(local, max_new_tokens=args.max_tokens)
        rates[batch] = llm.usage["completion_tokens"] / (time.perf_counter() - t0)
    print(f"transformers on CPU, 16 prompts: batched(16) {rates[16]:.1f} tok/s, unbatched {rates[1]:.1f} "
          f"tok/s, ratio {rates[16] / rates[1]:.2f}")


if __name__ == "__main__":
    main()
