"""Preference pairs for DPO: the source's answer against the model's own, or judge-ranked.

A kept answer that is a passage of its chunk (answer-first generation) is the document's own
words: it is chosen, and an answer the model writes without the source is rejected
(`chosen: source`). Ranking the two by a judge that cannot tell them apart (the bundled one's
separation AUROC is 0.4-0.65 on every labelled run) would train the model toward its own
invented answer about half of the time. A kept answer the model wrote (two-pass, imported
data) competes with the sampled ones and the judge ranks them all (`chosen: judged`): chosen
is then scored, not assumed.

Imported preferences (a team's own chosen/rejected rows) keep their labels: their chosen
side went through curation as a pair, the same judge scores the rejected side, and a row
where the judge scores rejected clearly above chosen (by `min_margin`) is quarantined as
`judge_prefers_rejected` for a person to look at, not flipped.

A conversation's preference is about its last turn: candidates answer the conversation up to
its last user turn, the judge reads them with the earlier turns in view, and the preference
keeps the conversation's system prompt and earlier turns (the DPO prompt).
"""

from __future__ import annotations

from tuneline.curation import judge
from tuneline.llm import LLM
from tuneline.params import GenerateParams, JudgeParams, PreferenceParams
from tuneline.records import Dropped, Pair, Preference, drop, prompt_messages

STAGE = "preferences"


def build_preferences(
    pairs: list[Pair], llm: LLM, judges: list[LLM], gen: GenerateParams, judging: JudgeParams,
    params: PreferenceParams, chunk_text: dict[str, str] | None = None,
    imported: list[Preference] | None = None,
) -> tuple[list[Preference], list[Dropped]]:
    """`llm` samples the extra candidates; `judges` (the judge, or the jury, that scored the
    kept answer) score them against the same chunk, so chosen and rejected compare scores
    from the same graders. A pair with an `imported` preference (by pair_id) gets that one."""
    chunk_text = chunk_text or {}
    labelled = {p.pair_id: p for p in imported or []}
    own = [p for p in pairs if p.pair_id in labelled]
    prefs, dropped = _score_imported(own, labelled, judges, judging, params)
    pairs = [p for p in pairs if p.pair_id not in labelled]
    k = params.extra_candidates
    prompts = [prompt_messages(p) for p in pairs for _ in range(k)]
    extra = llm.generate(prompts, max_new_tokens=gen.answer_max_tokens,
                         temperature=params.candidate_temperature, top_p=gen.top_p,
                         desc="candidates")
    items = [(judge.in_context(p), a, chunk_text.get(p.chunk_id))
             for p, a in zip((p for p in pairs for _ in range(k)), extra)]
    scores, _, _ = judge.jury_score(judges, items, judging, desc="judge candidates")
    for n, pair in enumerate(pairs):
        sampled = list(zip(scores[n * k:(n + 1) * k], extra[n * k:(n + 1) * k]))
        if params.chosen == "source" and _from_source(pair.answer, chunk_text.get(pair.chunk_id)):
            own = [(s, a) for s, a in sampled if a.strip() and _norm(a) != _norm(pair.answer)]
            if not own:
                dropped.append(drop(STAGE, "no_clear_preference", pair, "no sampled answer differs from the source's"))
                continue
            worst, rejected = min(own, key=lambda c: 6.0 if c[0] is None else c[0])
            prefs.append(Preference(pair.pair_id, pair.instruction, pair.answer, rejected,
                                    round(pair.score, 4) if pair.score is not None else None,
                                    round(worst, 4) if worst is not None else None,
                                    system=pair.system, history=pair.history))
            continue
        # only scored candidates can be ranked (an unjudged pair, or a judge that gave no score)
        candidates = [(s, a) for s, a in [(pair.score, pair.answer)] + list(
            zip(scores[n * k:(n + 1) * k], extra[n * k:(n + 1) * k]))
            if s is not None and a.strip()]
        candidates.sort(key=lambda c: c[0], reverse=True)
        if len(candidates) < 2:
            dropped.append(drop(STAGE, "no_clear_preference", pair,
                                f"{len(candidates)} scored candidates"))
            continue
        (best, chosen), (worst, rejected) = candidates[0], candidates[-1]
        if best - worst < params.min_margin:
            dropped.append(drop(STAGE, "no_clear_preference", pair,
                                f"{len(candidates)} scored candidates, margin {best - worst:.2f}"))
            continue
        prefs.append(Preference(pair.pair_id, pair.instruction, chosen, rejected,
                                round(best, 4), round(worst, 4), system=pair.system,
                                history=pair.history))
    return prefs, dropped


def _norm(text: str) -> str:
    return " ".join(text.split()).lower()


def _from_source(answer: str, chunk: str | None) -> bool:
    """The answer is a passage of its chunk (answer-first), whitespace aside."""
    return bool(chunk) and len(answer.split()) >= 5 and _norm(answer) in _norm(chunk)


def _score_imported(pairs: list[Pair], labelled: dict[str, Preference], judges: list[LLM],
                    judging: JudgeParams, params: PreferenceParams
                    ) -> tuple[list[Preference], list[Dropped]]:
    dropped = [drop(STAGE, "no_clear_preference", p, "the judge gave no score to chosen")
               for p in pairs if p.score is None]
    scored = [p for p in pairs if p.score is not None]
    items = [(judge.in_context(p), labelled[p.pair_id].rejected, None) for p in scored]
    scores, _, _ = (judge.jury_score(judges, items, judging, desc="judge imported rejected")
                    if items else ([], [], {}))
    prefs = []
    for pair, worst in zip(scored, scores):
        pref = labelled[pair.pair_id]
        if worst is None:
            dropped.append(drop(STAGE, "no_clear_preference", pair, "the judge gave no score to rejected"))
        elif worst - pair.score >= params.min_margin:
            dropped.append(drop(STAGE, "judge_prefers_rejected", {**vars(pair), "rejected": pref.rejected},
                                f"imported chosen scored {pair.score:.2f}, rejected {worst:.2f}"))
        else:
            prefs.append(Preference(pair.pair_id, pair.instruction, pair.answer, pref.rejected,
                                    round(pair.score, 4), round(worst, 4), system=pair.system,
                                    history=pair.history))
    return prefs, dropped
