from __future__ import annotations

from typing import Annotated

import pandas as pd
from zenml import log_metadata

from tuneline.curation import decontaminate as decontam
from tuneline.curation import split as core
from tuneline.params import DecontamParams, SplitParams
from tuneline.records import Pair, Preference, dropped_frame, from_frame, to_frame
from tuneline_steps._common import code_of, frame_step, log_ledger


@frame_step(cache_policy=code_of(core, decontam))
def split_dataset(
    pairs: pd.DataFrame, preferences: pd.DataFrame, split: SplitParams = SplitParams(),
    decontamination: DecontamParams = DecontamParams(),
) -> tuple[
    Annotated[pd.DataFrame, "train_pairs"],
    Annotated[pd.DataFrame, "test_pairs"],
    Annotated[pd.DataFrame, "train_preferences"],
    Annotated[pd.DataFrame, "test_preferences"],
    Annotated[pd.DataFrame, "decontaminate_rejected"],
]:
    """Hold out a stable test share, then drop train pairs that overlap test or benchmark text."""
    candidates, test = core.split_pairs(from_frame(pairs, Pair), split)
    train, dropped = decontam.decontaminate(candidates, test, decontamination)
    log_ledger("decontaminate", len(candidates), len(train), dropped)
    train_p, test_p = core.split_preferences(from_frame(preferences, Preference), test)
    train_p, orphans = core.follow_decontamination(train_p, train)
    log_ledger("decontaminate_preferences", len(train_p) + len(orphans), len(train_p), orphans)
    dropped += orphans
    log_metadata(metadata={"split": {"train_pairs": len(train), "test_pairs": len(test),
                                     "train_preferences": len(train_p),
                                     "test_preferences": len(test_p)}})
    return (to_frame(train, Pair), to_frame(test, Pair), to_frame(train_p, Preference),
            to_frame(test_p, Preference), dropped_frame(dropped))
