"""Small text measures shared by curation stages."""

from __future__ import annotations

import re

_WORD = re.compile(r"[^\W\d_]{3,}")
# function words carry no support: an answer made of them matches any chunk
_STOP = frozenset("""the and for are but not you all any can had her was one our out has him his how
its may new now old see two way who did get let put say she too use that with have this will your
from they been were said each which their there what about would these other into more some than
then them only over such when also very just most where being both does here after should could
given using used while within without whether""".split())


def content_stems(text: str) -> set[str]:
    return {w[:5] for w in (m.lower() for m in _WORD.findall(text)) if w not in _STOP}


def content_overlap(a: str, b: str) -> float:
    """Jaccard similarity of two texts' content-word stems: word order does not matter.
    Texts without content words ("Yes." / "No.") give no evidence of sameness: 0.0."""
    x, y = content_stems(a), content_stems(b)
    return len(x & y) / len(x | y) if x and y else 0.0
