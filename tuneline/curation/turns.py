"""Checking a conversation turn by turn with checks written for one exchange.

A check that reads one question and one answer runs on each exchange of a conversation as a
pair of its own (`views`); the verdicts come back per conversation (`fold`): kept when every
turn passes; cut to the turns before the first one that fails (`truncate`), or dropped whole.
A single-turn pair is its own view, so single-turn data is checked exactly as before.
"""

from __future__ import annotations

from dataclasses import replace

from tuneline.records import TRUNCATED, Dropped, Pair, drop, exchanges, stable_id


def views(pairs: list[Pair]) -> tuple[list[Pair], list[tuple[int, int]]]:
    """Each exchange of each pair as a pair (its `history`: the turns before it, so a check
    can tell a follow-up from an opening question), and per view (pair index, turn)."""
    out, owner = [], []
    for i, pair in enumerate(pairs):
        if not pair.history:
            out.append(pair)
            owner.append((i, 0))
            continue
        turns = exchanges(pair)
        for k, (question, answer) in enumerate(turns):
            out.append(replace(pair, pair_id=f"{pair.pair_id}#{k + 1}", instruction=question,
                               answer=answer, history=tuple(turns[:k])))
            owner.append((i, k))
    return out, owner


def head(pair: Pair, turns: int) -> Pair:
    """A conversation cut to its first `turns` exchanges, as a pair of its own."""
    kept = exchanges(pair)[:turns]
    return replace(pair, pair_id=stable_id(pair.pair_id, f"first {turns} turns"),
                   history=tuple(kept[:-1]), instruction=kept[-1][0], answer=kept[-1][1])


def _lowest(values: list[float | None]) -> float | None:
    given = [v for v in values if v is not None]
    return round(min(given), 4) if given else None


def fold(pairs: list[Pair], owner: list[tuple[int, int]], faults: dict[int, tuple[str, str]],
         stage: str, truncate: bool, scores: list[float | None] | None = None
         ) -> tuple[list[Pair], list[Dropped]]:
    """Verdicts on views (`faults`: view index -> (reason, detail)) as verdicts on their
    pairs, in input order. A conversation's first failing turn decides: the opening one drops
    it; a later one drops it too, or with `truncate` keeps the turns before it as a new pair
    while the whole conversation goes to the ledger as `truncated:<reason>`. `scores` (per
    view): each pair records the lowest score of the turns it keeps (a dropped one, of all)."""
    per_pair: dict[int, list[float | None]] = {}
    if scores is not None:
        for v, (i, _) in enumerate(owner):
            per_pair.setdefault(i, []).append(scores[v])
        pairs = [replace(p, score=_lowest(per_pair[i])) for i, p in enumerate(pairs)]
    first: dict[int, tuple[int, str, str]] = {}
    for v, (reason, detail) in sorted(faults.items()):
        i, k = owner[v]
        if i not in first or k < first[i][0]:
            first[i] = (k, reason, detail)
    kept, dropped = [], []
    for i, pair in enumerate(pairs):
        if i not in first:
            kept.append(pair)
            continue
        k, reason, detail = first[i]
        if not pair.history:
            dropped.append(drop(stage, reason, pair, detail))
            continue
        where = f"turn {k + 1} of {len(pair.history) + 1}"
        if k == 0 or not truncate:
            dropped.append(drop(stage, reason, pair, f"{where}: {detail}" if detail else where))
            continue
        cut = head(pair, k)
        if scores is not None:
            cut = replace(cut, score=_lowest(per_pair[i][:k]))
        kept.append(cut)
        dropped.append(drop(stage, f"{TRUNCATED}{reason}", pair,
                            f"{where}: {detail}; its first {k} turns kept as {cut.pair_id}"
                            if detail else f"{where}; its first {k} turns kept as {cut.pair_id}"))
    return kept, dropped
