"""LLM judge: a 1-5 rubric score for an instruction/answer pair, alone or as a jury.

Grounded: when the pair's source chunk is known the judge sees it and scores faithfulness
to it with helpfulness (reference-guided grading, as Prometheus and G-Eval do); a fluent
answer that contradicts its chunk otherwise scores like a faithful one. Pairs without a
source (imported instruction data) get the reference-free rubric.

A conversation's every assistant turn is scored, each with the turns before it in view
(`in_context`); a turn below the bar ends the conversation there (`judge_pairs`).

Two ways to read a judge:
- `logprobs`: the next-token probabilities over "1".."5" after the assistant turn opens with
  "Score: " (G-Eval style). The expected value is a finer score that never fails to parse,
  and the probability mass on the digits says whether the judge is answering the rubric.
- `text`: the judge writes its verdict; "Score: N", {"score": N}, "N/5" or a lone digit are
  accepted; an unparseable reply is asked again (sampled), then quarantined with the reply.
"""

from __future__ import annotations

import json
import re
from statistics import mean, median

from tuneline.curation import turns
from tuneline.llm import LLM, Chat
from tuneline.params import JudgeParams
from tuneline.records import Dropped, Pair

STAGE = "judge"
SCALE = ("1", "2", "3", "4", "5")
MIN_DIGIT_MASS = 0.5  # below this the judge is not giving a rubric score

RUBRIC = (
    "You are a strict grader. Rate the answer to the question from 1 to 5:\n"
    "1 = wrong or off-topic, 2 = mostly wrong or unhelpful, 3 = partly correct,\n"
    "4 = correct and helpful, 5 = correct, complete, clear and well written.\n"
    "Judge accuracy, helpfulness and style."
)
GROUNDED_RUBRIC = (
    "You are a strict grader. You get a source text, a question about it and an answer.\n"
    "Rate the answer from 1 to 5 by how faithful it is to the source and how well it answers:\n"
    "1 = contradicts the source or is about something else, 2 = mostly unsupported by the "
    "source or unhelpful, 3 = partly supported, 4 = supported by the source and helpful,\n"
    "5 = fully supported, complete and clear.\n"
    "An answer that states facts the source does not support scores 2 or lower, however "
    "fluent it is."
)
TEXT_FORMAT = "\nReply with one line: Score: N"
# the reply is {"score": N} where the backend enforces schemas (the transformers backend
# always, servers that take one); parse_score reads both. An enum, not minimum/maximum:
# lm-format-enforcer does not hold integers to a range (a sampled 135M judge wrote 55).
SCORE_SCHEMA = {"type": "object", "properties": {"score": {"type": "integer", "enum": [1, 2, 3, 4, 5]}},
                "required": ["score"], "additionalProperties": False}

Verdict = tuple["float | None", str]  # (score on 1-5 or None, what the judge said)


Item = tuple  # (instruction, answer) or (instruction, answer, source chunk or None)


def in_context(pair: Pair) -> str:
    """The question a judge reads: the last user turn, after the earlier turns it may lean on."""
    if not pair.history:
        return pair.instruction
    earlier = "\n".join(f"User: {u}\nAssistant: {a}" for u, a in pair.history)
    return f"(Earlier in the conversation:\n{earlier})\n\n{pair.instruction}"


def judge_chat(instruction: str, answer: str, source: str | None = None, text_format: str = "") -> Chat:
    if source is None:
        return [{"role": "system", "content": RUBRIC + text_format},
                {"role": "user", "content": f"Question: {instruction}\n\nAnswer: {answer}"}]
    return [{"role": "system", "content": GROUNDED_RUBRIC + text_format},
            {"role": "user", "content": f"Source:\n{source}\n\nQuestion: {instruction}\n\nAnswer: {answer}"}]


def expected_score(probs: list[float]) -> tuple[float | None, float]:
    """(expected score on the 1-5 scale, probability mass on the digits)."""
    mass = float(sum(probs))
    if mass < MIN_DIGIT_MASS:
        return None, mass
    return sum((k + 1) * p for k, p in enumerate(probs)) / mass, mass


_JSON_OBJ = re.compile(r"\{[^{}]*\}")
_SCORE_WORD = re.compile(r"\b(?:score|rating)\b\W{0,3}(?:is|of|=)?\W{0,3}(\d+(?:\.\d+)?)", re.I)
_OUT_OF_5 = re.compile(r"\b(\d+(?:\.\d+)?)\s*(?:/|out of)\s*5\b", re.I)


def parse_score(reply: str) -> float | None:
    """A 1-5 score from a judge's reply, or None; numbers outside 1-5 are not scores."""
    candidates: list[str] = []
    for obj in _JSON_OBJ.findall(reply):
        try:
            value = json.loads(obj)
        except ValueError:
            continue
        if isinstance(value, dict) and isinstance(value.get("score"), (int, float, str)):
            candidates.append(str(value["score"]))
    candidates += _SCORE_WORD.findall(reply) + _OUT_OF_5.findall(reply)
    if re.fullmatch(r"\s*\d(?:\.\d+)?\s*\.?\s*", reply):
        candidates.append(reply.strip().rstrip("."))
    for c in candidates:
        try:
            value = float(c)
        except ValueError:
            continue
        if 1 <= value <= 5:
            return value
    return None


def score(llm: LLM, items: list[Item], params: JudgeParams = JudgeParams(),
          desc: str = "judge") -> list[Verdict]:
    """One verdict per (instruction, answer, source) from one judge."""
    if params.method == "logprobs":
        probs = llm.choice_probs([judge_chat(*it) for it in items], "Score: ", SCALE, desc=desc)
        return [(s, f"digit probability {m:.2f}") for s, m in map(expected_score, probs)]
    chats = [judge_chat(*it, text_format=TEXT_FORMAT) for it in items]
    replies = llm.generate(chats, max_new_tokens=48, temperature=0.0, desc=desc, schema=SCORE_SCHEMA)
    verdicts: list[Verdict] = [(parse_score(r), r) for r in replies]
    for attempt in range(params.retries):
        todo = [i for i, (s, _) in enumerate(verdicts) if s is None]
        if not todo:
            break
        # a sampled second try: greedy decoding would repeat the same unparseable reply
        again = llm.generate([chats[i] for i in todo], max_new_tokens=48, temperature=0.7,
                             desc=f"{desc} retry {attempt + 1}", schema=SCORE_SCHEMA)
        for i, reply in zip(todo, again):
            verdicts[i] = (parse_score(reply), reply)
    return verdicts


def jury_score(judges: list[LLM], items: list[Item], params: JudgeParams, desc: str = "judge"
               ) -> tuple[list["float | None"], list[str], dict]:
    """Every judge scores every item; per item the combined score (None when no judge gave
    one) and what the judges said; plus the jury's agreement when there are several."""
    verdicts = [score(j, items, params, desc=f"{desc} {n + 1}/{len(judges)}") for n, j in enumerate(judges)]
    per_judge = [[s for s, _ in v] for v in verdicts]
    combined = [combine([votes[i] for votes in per_judge], params.aggregate) for i in range(len(items))]
    said = [" | ".join(v[i][1][:200] for v in verdicts) for i in range(len(items))]
    return combined, said, (agreement(per_judge) if len(judges) > 1 else {})


def combine(votes: list[float | None], how: str) -> float | None:
    """A jury's score: the mean, or the majority (median of rounded votes) of those who scored."""
    given = [v for v in votes if v is not None]
    if not given:
        return None
    return mean(given) if how == "mean" else float(median(round(v) for v in given))


def agreement(per_judge: list[list[float | None]]) -> dict:
    """How much a jury agrees: exact agreement of rounded scores and mean absolute gap."""
    rows = [[v for v in votes if v is not None] for votes in zip(*per_judge)]
    rows = [r for r in rows if len(r) >= 2]
    if not rows:
        return {"items_with_two_or_more_scores": 0}
    gaps = [abs(a - b) for r in rows for i, a in enumerate(r) for b in r[i + 1:]]
    return {
        "items_with_two_or_more_scores": len(rows),
        "exact_agreement": round(mean(len({round(v) for v in r}) == 1 for r in rows), 4),
        "mean_abs_gap": round(mean(gaps), 4),
        "judge_means": [round(mean(v for v in votes if v is not None), 4)
                        if any(v is not None for v in votes) else None for votes in per_judge],
    }


def auroc(pos: list[float], neg: list[float]) -> float | None:
    """P(a positive scores above a negative), ties counted half; None without both."""
    if not pos or not neg:
        return None
    return sum((p > q) + 0.5 * (p == q) for p in pos for q in neg) / (len(pos) * len(neg))


def separation(items: list[Item], scores: list["float | None"], judges: list[LLM],
               params: JudgeParams) -> dict:
    """Can this judge tell a pair's own answer from another question's? The first
    `separation_probes` items are scored again with the answer of the next item from another
    chunk (same question, same chunk shown): a judge worth filtering with scores its own
    answers higher. Measured on the run's own pairs, so it speaks for this judge on this
    corpus."""
    n = len(items)
    k = min(params.separation_probes, n)
    if k < 4:
        return {}
    swapped, probed = [], []
    for i in range(k):
        # another chunk's answer (a neighbour often shares this one's chunk, and may fit)
        j = next((j % n for j in range(i + 1, i + n) if items[j % n][2] != items[i][2]
                  or items[i][2] is None and items[j % n][1] != items[i][1]), None)
        if j is not None:
            swapped.append((items[i][0], items[j][1], *items[i][2:]))
            probed.append(i)
    if len(probed) < 4:
        return {}
    probe, _, _ = jury_score(judges, swapped, params, desc="judge probe")
    pos = [scores[i] for i in probed if scores[i] is not None]
    neg = [s for s in probe if s is not None]
    value = auroc(pos, neg)
    return {"probes": len(probed), "auroc": None if value is None else round(value, 3),
            "separates": value is not None and value >= params.min_separation}


def judge_pairs(pairs: list[Pair], judges: list[LLM], params: JudgeParams,
                chunk_text: dict[str, str] | None = None) -> tuple[list[Pair], list[Dropped], dict]:
    """Score every pair with every judge, grounded in its chunk when `chunk_text` has it;
    keep those whose (combined) score reaches min_score. A conversation's turns are scored
    each with the turns before it; at the first turn below min_score the turns before it are
    kept as a pair of their own (tuneline/curation/turns.py), and a pair records the lowest
    score of its turns. When the judge fails its separation probe, its scores are recorded on
    the pairs but drop none of them: a judge that scores an answer to another question like a
    fitting one is not a filter."""
    chunk_text = chunk_text or {}
    each, owner = turns.views(pairs)
    items = [(in_context(v), v.answer, chunk_text.get(v.chunk_id)) for v in each]
    scores, said, stats = jury_score(judges, items, params)
    probe = separation(items, scores, judges, params) if params.separation_probes else {}
    advisory = bool(probe) and not probe["separates"]
    faults = {}
    for n, (value, words) in enumerate(zip(scores, said)):
        if value is None:
            faults[n] = ("judge_gave_no_score", words)
        elif value < params.min_score and not advisory:
            faults[n] = ("low_judge_score", f"{value:.2f} < {params.min_score}")
    kept, dropped = turns.fold(pairs, owner, faults, STAGE, truncate=True, scores=scores)
    if probe:
        stats = {**stats, "separation": {**probe, "filtering": not advisory}}
    return kept, dropped, stats
