"""Records that flow between pipeline stages, and their table form.

Every curation stage conserves records: each input ends up either kept or in a
`Dropped` row that carries the stage, a machine-readable reason and a detail.
Between steps, records travel as pandas DataFrames (one row per record).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from typing import Any, Iterable, TypeVar

import pandas as pd


@dataclass(frozen=True)
class RawFile:
    path: str  # relative to the raw folder
    size: int  # bytes
    sha256: str


@dataclass(frozen=True)
class Document:
    doc_id: str
    source: str  # raw file path, with ":LINE" for JSONL records
    text: str  # with Markdown headings when `structured`
    title: str = ""
    structured: bool = False  # lines starting with '#' outside code fences are headings


@dataclass(frozen=True)
class Chunk:
    chunk_id: str
    doc_id: str
    source: str
    text: str
    title: str = ""  # the document's
    section: str = ""  # heading path, "Installation > From source"; "" before the first heading


Exchange = tuple[str, str]  # (user turn, assistant turn)


@dataclass(frozen=True)
class Pair:
    """One example: a conversation whose last exchange is `instruction` -> `answer`, after an
    optional `system` prompt and the earlier exchanges in `history`. A single-turn pair has
    neither; every stage that reads one exchange reads the last one, and the stages that must
    see the whole conversation (filters, dedup, judge, decontamination, training) use
    `messages` / `exchanges`."""

    pair_id: str
    chunk_id: str  # "" for imported instruction data (no source chunk)
    source: str
    instruction: str
    answer: str
    score: float | None = None  # judge score on the 1-5 scale, once judged
    system: str = ""
    history: tuple[Exchange, ...] = ()


@dataclass(frozen=True)
class Preference:
    """Two answers to the same conversation: `instruction` is its last user turn, after
    `system` and `history` (the DPO prompt is all of them; chosen/rejected the last turn)."""

    pair_id: str
    instruction: str
    chosen: str
    rejected: str
    chosen_score: float | None  # None: not scored (chosen because it is the source's own text)
    rejected_score: float | None
    system: str = ""
    history: tuple[Exchange, ...] = ()


def exchanges(record: Pair) -> list[Exchange]:
    """Every (user, assistant) exchange of a pair, the last one included."""
    return [*record.history, (record.instruction, record.answer)]


def prompt_messages(record: Pair | Preference, default_system: str = "") -> list[dict[str, str]]:
    """The conversation up to and including its last user turn, as chat messages; the
    record's own system prompt, else `default_system`, else none."""
    system = record.system or default_system
    out = [{"role": "system", "content": system}] if system else []
    for user, reply in record.history:
        out += [{"role": "user", "content": user}, {"role": "assistant", "content": reply}]
    return out + [{"role": "user", "content": record.instruction}]


def messages(pair: Pair, default_system: str = "") -> list[dict[str, str]]:
    """The whole conversation as chat messages (see `prompt_messages`)."""
    return prompt_messages(pair, default_system) + [{"role": "assistant", "content": pair.answer}]


@dataclass(frozen=True)
class Dropped:
    """A record a stage did not keep, and why."""

    stage: str
    reason: str
    detail: str
    record: dict[str, Any]


class Unreadable(Exception):
    """A file or row a stage cannot use: the reason and detail its drop record gets."""

    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason, self.detail = reason, detail


R = TypeVar("R")


def stable_id(*parts: str, length: int = 16) -> str:
    """Content-derived id: the same input gives the same id in every run (cache friendly)."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:length]


def _nested(cls: type) -> set[str]:
    # tuple fields (a conversation's history) travel as JSON text: a flat column that parquet,
    # the content hash and a table view all read as they read any other string
    return {f.name for f in dataclasses.fields(cls) if f.default == ()}


def to_frame(records: Iterable[Any], cls: type) -> pd.DataFrame:
    """Records -> DataFrame with exactly the dataclass's columns (also when empty)."""
    columns = [f.name for f in dataclasses.fields(cls)]
    nested = _nested(cls)
    rows = []
    for r in records:
        row = dict(vars(r))
        for name in nested:
            row[name] = json.dumps(row[name], ensure_ascii=False) if row[name] else ""
        rows.append(row)
    return pd.DataFrame(rows, columns=columns)


def from_frame(df: pd.DataFrame, cls: type[R]) -> list[R]:
    """DataFrame -> records; columns the dataclass does not know are an error, columns it
    has and the frame lacks (an artifact written before the field existed) take the field's
    default."""
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(df.columns) - names
    if unknown:
        raise ValueError(f"{cls.__name__} has no fields {sorted(unknown)}")
    nested = _nested(cls) & set(df.columns)
    out = []
    for row in df.to_dict("records"):
        values = {k: _plain(v) for k, v in row.items()}
        for name in nested:
            values[name] = _tuples(values[name])
        out.append(cls(**values))
    return out


def _tuples(value: Any) -> tuple:
    if value is None or (isinstance(value, str) and not value):
        return ()
    if isinstance(value, str):
        value = json.loads(value)
    return tuple(tuple(v) if isinstance(v, (list, tuple)) else v for v in value)


def _plain(value: Any) -> Any:
    # parquet round-trips turn None into NaN in float columns
    return None if isinstance(value, float) and value != value else value


DROPPED_COLUMNS = ["stage", "reason", "detail", "record_id", "record"]


def dropped_frame(dropped: Iterable[Dropped]) -> pd.DataFrame:
    """Dropped records as a table; the record itself is kept whole as JSON."""
    rows = [
        {
            "stage": d.stage,
            "reason": d.reason,
            "detail": d.detail,
            "record_id": _record_id(d.record),
            "record": json.dumps(d.record, ensure_ascii=False, default=str),
        }
        for d in dropped
    ]
    return pd.DataFrame(rows, columns=DROPPED_COLUMNS)


def _record_id(record: dict[str, Any]) -> str:
    for key in ("pair_id", "chunk_id", "doc_id", "path"):
        if key in record:
            return str(record[key])
    return ""


def drop(stage: str, reason: str, record: Any, detail: str = "") -> Dropped:
    # records are flat dataclasses: their fields, without asdict's recursive deep copy
    rec = dict(vars(record)) if dataclasses.is_dataclass(record) else dict(record)
    return Dropped(stage=stage, reason=reason, detail=detail, record=rec)


def reason_counts(dropped: Iterable[Dropped]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for d in dropped:
        counts[d.reason] = counts.get(d.reason, 0) + 1
    return dict(sorted(counts.items()))


# The reason of a conversation cut short (`truncated:<reason>`): its head was kept as a new pair,
# the whole conversation is in the ledger. No other reason has a colon.
TRUNCATED = "truncated:"


def ledger(stage: str, n_in: int, kept: int, dropped: list[Dropped]) -> dict[str, Any]:
    """Step metadata for a curation stage; raises if records were lost or invented. A record
    dropped with a `truncated:` reason was also kept, cut short (a conversation's head)."""
    truncated = sum(d.reason.startswith(TRUNCATED) for d in dropped)
    if n_in != kept + len(dropped) - truncated:
        raise AssertionError(
            f"{stage}: ledger does not balance: {n_in} in != {kept} kept + {len(dropped)} dropped"
        )
    return {"inputs": n_in, "kept": kept, "dropped": len(dropped),
            "dropped_by_reason": reason_counts(dropped)}
