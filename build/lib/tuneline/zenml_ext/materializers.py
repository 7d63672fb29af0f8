"""DataFrame artifacts with a content hash.

ZenML's pandas materializer computes no content hash, so a step downstream of a rerun
step would re-execute even when the rerun produced identical data. With a hash, the cache
key uses the content, and e.g. re-scanning an unchanged raw folder keeps everything after
it cached.
"""

from __future__ import annotations

import hashlib
from typing import Any, ClassVar, Optional

import pandas as pd
from zenml.integrations.pandas.materializers.pandas_materializer import PandasMaterializer


class HashedDataFrameMaterializer(PandasMaterializer):
    """Named by each tuneline step that returns DataFrames (`output_materializers`); it does
    not replace pandas' materializer for anyone else in the process."""

    ASSOCIATED_TYPES: ClassVar[tuple[type[Any], ...]] = (pd.DataFrame,)
    SKIP_REGISTRATION: ClassVar[bool] = True

    def compute_content_hash(self, data: Any) -> Optional[str]:
        return frame_hash(data)


def frame_hash(df: pd.DataFrame) -> str:
    digest = hashlib.sha256()
    digest.update(repr([(str(c), str(t)) for c, t in df.dtypes.items()]).encode())
    try:
        digest.update(pd.util.hash_pandas_object(df, index=True).values.tobytes())
    except TypeError:  # unhashable cells (lists, dicts): hash their JSON form
        digest.update(df.to_json(orient="split", default_handler=str).encode())
    return digest.hexdigest()
