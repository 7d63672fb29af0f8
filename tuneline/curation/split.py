"""Train/test split that does not drift: a pair's side depends on its own id and the seed only.

Ranking all pairs and holding out the first share (the earlier rule) moved the cutoff whenever
pairs were added, so a pair trained on in one version could land in the next version's test
split, and the evaluation then scored production on pairs it had learned. A threshold on each
id's own hash keeps every pair on its side whatever else is added or removed.
"""

from __future__ import annotations

import hashlib

from tuneline.params import SplitParams
from tuneline.records import Dropped, Pair, Preference, drop


def position(pair_id: str, seed: int) -> float:
    """Where a pair falls in [0, 1): a uniform draw fixed by its id and the seed."""
    digest = hashlib.sha256(f"{seed}:{pair_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def split_pairs(pairs: list[Pair], params: SplitParams) -> tuple[list[Pair], list[Pair]]:
    """Test: the pairs whose position is below `test_fraction`. A side the threshold leaves
    empty (a handful of pairs) takes the pair nearest the threshold, so both sides always hold
    one; only then can a later, larger run move that pair across."""
    if len(pairs) < 2:
        raise ValueError(f"need at least 2 curated pairs to split into train and test, got {len(pairs)}")
    at = {p.pair_id: position(p.pair_id, params.seed) for p in pairs}
    test_ids = {i for i, x in at.items() if x < params.test_fraction}
    if not test_ids:
        test_ids = {min(at, key=at.get)}
    if len(test_ids) == len(at):
        test_ids.discard(max(at, key=at.get))
    return ([p for p in pairs if p.pair_id not in test_ids], [p for p in pairs if p.pair_id in test_ids])


def split_preferences(prefs: list[Preference], test: list[Pair]) -> tuple[list[Preference], list[Preference]]:
    """Preferences follow their pair, so no test instruction is trained on by DPO."""
    test_ids = {p.pair_id for p in test}
    return ([p for p in prefs if p.pair_id not in test_ids], [p for p in prefs if p.pair_id in test_ids])


def follow_decontamination(prefs: list[Preference], train: list[Pair]
                           ) -> tuple[list[Preference], list[Dropped]]:
    """Train preferences whose pair decontamination dropped go too: DPO must not see a
    contaminated instruction either."""
    ids = {p.pair_id for p in train}
    kept = [p for p in prefs if p.pair_id in ids]
    dropped = [drop("decontaminate", "pair_overlaps_evaluation_data", p, f"pair {p.pair_id} dropped")
               for p in prefs if p.pair_id not in ids]
    return kept, dropped
