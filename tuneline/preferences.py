"""Preference pairs for DPO: candidates ranked by the judge, chosen/rejected with a margin.

The kept (context-grounded) answer competes with answers the model gives without the
source text; the judge ranks them all, so "chosen" is not assumed, it is scored.

Imported preferences (a team's own chosen/rejected rows) keep their labels: their chosen
side went through curation as a pair, the same judge scores the rejected side, and a row
where the judge scores rejected clearly above chosen (by `min_margin`) is quarantined as
`judge_prefers_rejected` for a person to look at, not flipped.
"""

from __future__ import annotations

from tuneline import judge
from tuneline.formats import user_chat
from tuneline.llm import LLM
from tuneline.params import GenerateParams, JudgeParams, PreferenceParams
from tuneline.records import Dropped, Pair, Preference, drop

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
    prompts = [user_chat(p.instruction) for p in pairs for _ in range(k)]
    extra = llm.generate(prompts, max_new_tokens=gen.answer_max_tokens,
                         temperature=params.candidate_temperature, top_p=gen.top_p,
                         desc="candidates")
    items = [(p.instruction, a, chunk_text.get(p.chunk_id))
             for p, a in zip((p for p in pairs for _ in range(k)), extra)]
    scores, _, _ = judge.jury_score(judges, items, judging, desc="judge candidates")
    for n, pair in enumerate(pairs):
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
                                round(best, 4), round(worst, 4)))
    return prefs, dropped


def _score_imported(pairs: list[Pair], labelled: dict[str, Preference], judges: list[LLM],
                    judging: JudgeParams, params: PreferenceParams
                    ) -> tuple[list[Preference], list[Dropped]]:
    dropped = [drop(STAGE, "no_clear_preference", p, "the judge gave no score to chosen")
               for p in pairs if p.score is None]
    scored = [p for p in pairs if p.score is not None]
    items = [(p.instruction, labelled[p.pair_id].rejected, None) for p in scored]
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
                                    round(pair.score, 4), round(worst, 4)))
    return prefs, dropped
