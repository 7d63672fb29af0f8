"""Pairs and preferences as chat-format rows for TRL (conversational prompt/completion)."""

from __future__ import annotations

from tuneline.records import Pair, Preference


def user_chat(instruction: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": instruction}]


def assistant(text: str) -> list[dict[str, str]]:
    return [{"role": "assistant", "content": text}]


def sft_rows(pairs: list[Pair]) -> list[dict]:
    """Prompt/completion rows: TRL computes the loss on the completion only."""
    return [{"prompt": user_chat(p.instruction), "completion": assistant(p.answer)} for p in pairs]


def dpo_rows(prefs: list[Preference]) -> list[dict]:
    return [{"prompt": user_chat(p.instruction), "chosen": assistant(p.chosen),
             "rejected": assistant(p.rejected)} for p in prefs]
