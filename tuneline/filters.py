"""Rule filters. Each is `f(pair, params) -> reason | None`: it says why it drops a pair."""

from __future__ import annotations

import re
from typing import Callable

from tuneline.params import FilterParams
from tuneline.records import Dropped, Pair, drop

STAGE = "filter"
Filter = Callable[[Pair, FilterParams], "str | None"]

_WORD = re.compile(r"\w+")


def instruction_length(pair: Pair, p: FilterParams) -> str | None:
    n = len(pair.instruction.split())
    if n < p.min_instruction_words:
        return "instruction_too_short"
    if n > p.max_instruction_words:
        return "instruction_too_long"
    return None


def answer_length(pair: Pair, p: FilterParams) -> str | None:
    n = len(pair.answer.split())
    if n < p.min_answer_words:
        return "answer_too_short"
    if n > p.max_answer_words:
        return "answer_too_long"
    return None


def banned_phrase(pair: Pair, p: FilterParams) -> str | None:
    text = f"{pair.instruction}\n{pair.answer}".lower()
    return "banned_phrase" if any(b in text for b in p.banned_phrases) else None


def mostly_non_alpha(pair: Pair, p: FilterParams) -> str | None:
    chars = [c for c in pair.answer if not c.isspace()]
    if chars and sum(c.isalpha() for c in chars) / len(chars) < p.min_alpha_ratio:
        return "mostly_non_alphabetic"
    return None


def copies_instruction(pair: Pair, p: FilterParams) -> str | None:
    """An answer made of the instruction's own words teaches nothing."""
    answer = _WORD.findall(pair.answer.lower())
    asked = set(_WORD.findall(pair.instruction.lower()))
    if answer and sum(w in asked for w in answer) / len(answer) > p.max_copy_ratio:
        return "answer_copies_instruction"
    return None


def repeated_lines(pair: Pair, p: FilterParams) -> str | None:
    """Gopher-style: a large share of duplicate lines marks degenerate, looping output."""
    lines = [ln.strip() for ln in pair.answer.splitlines() if ln.strip()]
    if len(lines) >= 3 and 1 - len(set(lines)) / len(lines) > p.max_duplicate_line_ratio:
        return "repeated_lines"
    return None


FILTERS: tuple[Filter, ...] = (
    instruction_length, answer_length, banned_phrase, mostly_non_alpha, copies_instruction,
    repeated_lines,
)


def apply_filters(
    pairs: list[Pair], params: FilterParams, filters: tuple[Filter, ...] = FILTERS
) -> tuple[list[Pair], list[Dropped]]:
    """Keep pairs no filter objects to; a dropped pair carries the first filter's reason."""
    kept, dropped = [], []
    for pair in pairs:
        reason = next((r for f in filters if (r := f(pair, params))), None)
        if reason:
            dropped.append(drop(STAGE, reason, pair))
        else:
            kept.append(pair)
    return kept, dropped
