"""LLM backends behind one small protocol; `make_llm` is the single dispatch point."""

from __future__ import annotations

from typing import Protocol, Sequence

from tuneline.params import LLMParams

Chat = list[dict[str, str]]  # OpenAI-style messages: [{"role": "user", "content": "..."}]


class LLM(Protocol):
    name: str
    usage: dict  # calls, cached_calls, prompt_tokens, completion_tokens[, cost_usd]

    def generate(
        self, chats: Sequence[Chat], *, max_new_tokens: int, temperature: float = 0.0,
        top_p: float = 1.0, desc: str = "generate", schema: dict | None = None,
        no_repeat: int | None = None,
    ) -> list[str]:
        """One completion per chat, in input order; `schema` asks for JSON of that shape: the
        transformers backend constrains its decoding to it, the openai backend asks the server
        (`response_format`, where the server takes one). Callers still parse. `no_repeat`: a
        reply repeats no run of that many of its own tokens (the transformers backend; a
        server keeps to its own repetition settings)."""

    def choice_probs(
        self, chats: Sequence[Chat], prefix: str, choices: Sequence[str], *, desc: str = "score",
    ) -> list[list[float]]:
        """For each chat, P(next token = choice) after the assistant turn starts with `prefix`."""


def backend_modules() -> list:
    """Modules whose code decides what an LLM step returns: steps list them as cache
    dependencies (re-executing such a step is cheap: unchanged calls come from the call cache)."""
    from tuneline.llm import (
        cache,
        constrained,
        openai_backend,
        sampling,
        shared,
        transformers_backend,
    )

    return [cache, constrained, openai_backend, sampling, shared, transformers_backend]



def make_llm(params: LLMParams, shared=None) -> LLM:
    """The configured backend; `shared` is the stack's call folder (tuneline/llm/shared.py)
    behind the machine's call cache, given by the step that knows the stack."""
    if params.backend == "transformers":
        from tuneline.llm.transformers_backend import load

        return load(params, shared)
    if params.backend == "openai":
        from tuneline.llm.openai_backend import load

        return load(params, shared)
    raise ValueError(f"unknown llm.backend {params.backend!r}; expected transformers or openai")
