from __future__ import annotations

from typing import Annotated

import pandas as pd
from zenml import log_metadata, step
from zenml.config import CachePolicy

from tuneline import split as core
from tuneline.params import SplitParams
from tuneline.records import Pair, Preference, from_frame, to_frame


@step(cache_policy=CachePolicy(source_dependencies=[core]))
def split_dataset(
    pairs: pd.DataFrame, preferences: pd.DataFrame, split: SplitParams = SplitParams()
) -> tuple[
    Annotated[pd.DataFrame, "train_pairs"],
    Annotated[pd.DataFrame, "test_pairs"],
    Annotated[pd.DataFrame, "train_preferences"],
    Annotated[pd.DataFrame, "test_preferences"],
]:
    """Hold out a stable test share; preferences follow their pair's side."""
    train, test = core.split_pairs(from_frame(pairs, Pair), split)
    train_p, test_p = core.split_preferences(from_frame(preferences, Preference), test)
    log_metadata(metadata={"split": {"train_pairs": len(train), "test_pairs": len(test),
                                     "train_preferences": len(train_p),
                                     "test_preferences": len(test_p)}})
    return (to_frame(train, Pair), to_frame(test, Pair), to_frame(train_p, Preference),
            to_frame(test_p, Preference))
