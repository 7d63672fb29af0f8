"""Train/test split that is stable across runs: a pair's side depends on its id and the seed."""

from __future__ import annotations

import hashlib

from tuneline.params import SplitParams
from tuneline.records import Dropped, Pair, Preference, drop


def split_pairs(pairs: list[Pair], params: SplitParams) -> tuple[list[Pair], list[Pair]]:
    """Rank pairs by a seeded hash and hold out the first share; at least one on each side."""
    if len(pairs) < 2:
        raise ValueError(f"need at least 2 curated pairs to split into train and test, got {len(pairs)}")
    ranked = sorted(pairs, key=lambda p: hashlib.sha256(f"{params.seed}:{p.pair_id}".encode()).digest())
    n_test = min(len(pairs) - 1, max(1, round(len(pairs) * params.test_fraction)))
    test_ids = {p.pair_id for p in ranked[:n_test]}
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
