"""LLM judge: a 1-5 rubric score for an instruction/answer pair.

The score is read from the judge's next-token probabilities over "1".."5" after the
assistant turn opens with "Score: " (G-Eval style): the expected value is a finer, never
unparseable score, and the probability mass on the digits says whether the judge is
answering the rubric at all. A pair whose mass is too low is quarantined, not guessed.
"""

from __future__ import annotations

from dataclasses import replace

from tuneline.llm import LLM, Chat
from tuneline.params import JudgeParams
from tuneline.records import Dropped, Pair, drop

STAGE = "judge"
SCALE = ("1", "2", "3", "4", "5")
MIN_DIGIT_MASS = 0.5  # below this the judge is not giving a rubric score

RUBRIC = (
    "You are a strict grader. Rate the answer to the question from 1 to 5:\n"
    "1 = wrong or off-topic, 2 = mostly wrong or unhelpful, 3 = partly correct,\n"
    "4 = correct and helpful, 5 = correct, complete, clear and well written.\n"
    "Judge accuracy, helpfulness and style."
)


def judge_chat(instruction: str, answer: str) -> Chat:
    return [{"role": "system", "content": RUBRIC},
            {"role": "user", "content": f"Question: {instruction}\n\nAnswer: {answer}"}]


def expected_score(probs: list[float]) -> tuple[float | None, float]:
    """(expected score on the 1-5 scale, probability mass on the digits)."""
    mass = float(sum(probs))
    if mass < MIN_DIGIT_MASS:
        return None, mass
    return sum((k + 1) * p for k, p in enumerate(probs)) / mass, mass


def score(llm: LLM, items: list[tuple[str, str]], desc: str = "judge") -> list[tuple[float | None, float]]:
    probs = llm.choice_probs([judge_chat(q, a) for q, a in items], "Score: ", SCALE, desc=desc)
    return [expected_score(p) for p in probs]


def judge_pairs(pairs: list[Pair], llm: LLM, params: JudgeParams) -> tuple[list[Pair], list[Dropped]]:
    kept, dropped = [], []
    for pair, (value, mass) in zip(pairs, score(llm, [(p.instruction, p.answer) for p in pairs])):
        if value is None:
            dropped.append(drop(STAGE, "judge_gave_no_score", pair, f"digit probability {mass:.2f}"))
        elif value < params.min_score:
            dropped.append(drop(STAGE, "low_judge_score", replace(pair, score=value),
                                f"{value:.2f} < {params.min_score}"))
        else:
            kept.append(replace(pair, score=round(value, 4)))
    return kept, dropped
