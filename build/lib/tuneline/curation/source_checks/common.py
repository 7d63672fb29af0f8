"""What every source check reads and returns: the pair's source (its chunk and where it sits), a
verdict `(reason, detail) | None`, and prose with code spans taken out."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Optional

from tuneline.params import GroundingParams
from tuneline.records import Pair


@dataclass(frozen=True)
class Source:
    """What a pair is checked against: its chunk's text and where it sits (title > section);
    both None for imported data, which only the rules that need no source check."""
    text: str | None
    where: str = ""

    @property
    def lower(self) -> str:
        return (self.text or "").lower()


Verdict = Optional[tuple[str, str]]  # (reason, detail) of a drop, or None


Check = Callable[[Pair, Source, GroundingParams], Verdict]


_CODE = re.compile(r"```.*?```|`[^`\n]*`", re.DOTALL)


_QUOTED = re.compile(r"\"[^\"\n]{1,60}\"|“[^”\n]{1,60}”")



def _prose(text: str) -> str:
    return _CODE.sub(" ", text)
