"""Any OpenAI-compatible chat endpoint (OpenAI, vLLM, Ollama, TGI, llama.cpp's server).

Requests run `concurrency` at a time on threads. Retries with exponential backoff and
jitter on 408/409/429/5xx, connection errors and timeouts are the official SDK's own
(`max_retries`); a request that still fails stops the step with an error naming the server
and model, and every call that had finished is already in the call cache.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Any

from tuneline.llm import sampling
from tuneline.llm.cache import CallCache, cached_calls, call_keys, open_cache
from tuneline.params import LLMParams


class LLMUnavailable(RuntimeError):
    pass


@dataclass
class OpenAILLM:
    name: str
    base_url: str | None
    client: Any
    concurrency: int
    seed: int
    prices: tuple[float | None, float | None]
    cache: CallCache | None = None
    usage: dict = field(default_factory=dict)
    # structured-output dialects, tried in order until the server accepts one
    _format: int = 0
    _format_confirmed: bool = False
    _usage_lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def identity(self) -> dict:
        return {"backend": "openai", "base_url": self.base_url, "model": self.name}

    def _create(self, probe: bool = False, **kwargs):
        import openai

        # a probe of an unconfirmed request shape must not sit through the retry backoff
        client = self.client.with_options(max_retries=0) if probe else self.client
        try:
            response = client.chat.completions.create(model=self.name, **kwargs)
        except openai.APIError as e:
            raise LLMUnavailable(f"LLM server {self.base_url or 'api.openai.com'} "
                                 f"(model {self.name!r}) failed after retries: {e}") from e
        except ValueError as e:  # a 200 whose body is not JSON (a proxy's error page, say)
            raise LLMUnavailable(f"LLM server {self.base_url or 'api.openai.com'} "
                                 f"(model {self.name!r}) answered with a body that is not "
                                 f"OpenAI JSON: {e}") from e
        if response.usage:
            self._add_usage(response.usage.prompt_tokens, response.usage.completion_tokens)
        return response

    def _add_usage(self, prompt: int, completion: int) -> None:
        with self._usage_lock:  # requests finish on several threads
            u = self.usage
            u["prompt_tokens"] = u.get("prompt_tokens", 0) + prompt
            u["completion_tokens"] = u.get("completion_tokens", 0) + completion
            price_in, price_out = self.prices
            if price_in is not None and price_out is not None:
                u["cost_usd"] = u.get("cost_usd", 0.0) + (prompt * price_in + completion * price_out) / 1e6

    def _pool(self, todo: list[int], one, desc: str):
        """Run `one(i)` for every index, `concurrency` at a time; yield results as they finish."""
        from tqdm.auto import tqdm

        with ThreadPoolExecutor(self.concurrency) as pool, \
                tqdm(total=len(todo), desc=desc, unit="call") as bar:
            futures = {pool.submit(one, i): i for i in todo}
            for future in as_completed(futures):
                bar.update(1)
                yield [futures[future]], [future.result()]

    def generate(self, chats, *, max_new_tokens, temperature=0.0, top_p=1.0, desc="generate",
                 schema=None, no_repeat=None):
        # (`no_repeat` is the in-process decoder's: a server keeps to its own repetition settings)
        params = {"max_new_tokens": max_new_tokens, "temperature": temperature, "top_p": top_p,
                  "seed": self.seed, "seeding": "per-call", "schema": schema}
        # one seed per call, from its key: repeated prompts (several questions asked of one
        # chunk) get different samples, and a prompt's sample does not depend on its position
        # among the calls still to make (reused calls change those positions)
        seeds = [sampling.row_seed(k) % (1 << 31)
                 for k in call_keys(self.identity, "generate", chats, params)]

        def one(i: int) -> str:
            kwargs = dict(messages=chats[i], max_tokens=max_new_tokens, temperature=temperature,
                          top_p=top_p, seed=seeds[i])
            return self._text(self._structured(kwargs, schema) if schema else self._create(**kwargs))

        return cached_calls(self.cache, self.identity, "generate", chats, params,
                            lambda todo: self._pool(todo, one, desc), self.usage)

    def _structured(self, kwargs: dict, schema: dict):
        """JSON-schema output in the first dialect the server accepts: OpenAI's `json_schema`
        (OpenAI, vLLM, Ollama), llama.cpp's `json_object` + `schema`, else none (callers parse)."""
        dialects = [{"type": "json_schema", "json_schema": {"name": "reply", "schema": schema, "strict": True}},
                    {"type": "json_object", "schema": schema}, None]
        while True:
            fmt = dialects[self._format]
            if fmt is None:
                return self._create(**kwargs)
            try:
                response = self._create(probe=not self._format_confirmed, response_format=fmt, **kwargs)
                self._format_confirmed = True
                return response
            except LLMUnavailable as e:
                if self._format_confirmed or "response_format" not in str(e):
                    raise
                with self._usage_lock:
                    if dialects[self._format] is fmt:  # another thread may have moved on already
                        self._format += 1

    @staticmethod
    def _text(response) -> str:
        return (response.choices[0].message.content or "").strip()

    def choice_probs(self, chats, prefix, choices, *, desc="score"):
        """Chat APIs can't prefill the assistant turn, so the request asks for a reply of the form
        `prefix` + choice and reads P(choice) from the top logprobs at the first position where
        the reply puts a choice (a few tokens in, after e.g. "Score:")."""
        import math

        def one(i: int) -> list[float]:
            messages = [dict(m) for m in chats[i]]
            messages[-1]["content"] += (f"\n\nReply in the form '{prefix}N' where N is one of "
                                        f"{', '.join(choices)}.")
            response = self._create(messages=messages, max_tokens=8, temperature=0.0,
                                    logprobs=True, top_logprobs=20, seed=self.seed)
            logprobs = response.choices[0].logprobs
            if logprobs is None or not logprobs.content:
                raise LLMUnavailable(f"LLM server {self.base_url} (model {self.name!r}) returned no "
                                     "logprobs; use judging.method: text for this endpoint")
            for position in logprobs.content:
                top = {t.token.strip(): math.exp(t.logprob) for t in position.top_logprobs}
                probs = [top.get(c, 0.0) for c in choices]
                if position.token.strip() in choices or sum(probs) >= 0.5:
                    return probs
            return [0.0] * len(choices)  # never gave a choice: mass 0, quarantined by the judge

        params = {"prefix": prefix, "choices": list(choices)}
        return cached_calls(self.cache, self.identity, "choice_probs", chats, params,
                            lambda todo: self._pool(todo, one, desc), self.usage)


def load(params: LLMParams, shared=None) -> OpenAILLM:
    from openai import OpenAI

    key = os.environ.get(params.api_key_env)
    if key is None and params.base_url is None:
        raise LLMUnavailable(f"llm.backend openai: set the environment variable {params.api_key_env} "
                             "(llm.api_key_env names it) or a base_url of a local server")
    client = OpenAI(base_url=params.base_url, api_key=key or "not-needed",
                    timeout=params.timeout_s, max_retries=params.max_retries)
    return OpenAILLM(name=params.model, base_url=params.base_url, client=client,
                     concurrency=params.concurrency, seed=params.seed,
                     prices=(params.price_input_per_mtok, params.price_output_per_mtok),
                     cache=open_cache(params.cache, shared))
