"""Raw folder (and Hugging Face datasets) -> manifest -> documents and imported pairs -> chunks.

Nothing is lost: every file, JSONL line or dataset row that does not become a document or a
pair is a `Dropped` record naming the file (and line or row) and the reason.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from tuneline.documents import hfdata
from tuneline.documents.instruction_data import import_row, shape_of
from tuneline.documents.readers import READERS, SETEXT, decode, fallback_title, read_text
from tuneline.params import IngestParams
from tuneline.records import (
    Chunk,
    Document,
    Dropped,
    Pair,
    Preference,
    RawFile,
    Unreadable,
    drop,
    stable_id,
)

STAGE = "ingest"
ROW_FILES = (".jsonl", ".json")


def scan_folder(folder: str | Path, extensions: list[str], exclude: list[str] = ()
                ) -> tuple[list[RawFile], list[Dropped]]:
    """List the files under `folder` (path, size, sha256); other extensions and the paths
    `exclude` matches (glob patterns on the relative path) are kept as dropped."""
    root = Path(folder).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(f"raw folder {str(root)!r} does not exist or is not a folder")
    files: list[RawFile] = []
    skipped: list[Dropped] = []
    # followlinks=False: a symlink loop cannot make the walk run forever
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if name.startswith("."):
                continue
            path = Path(dirpath) / name
            rel = str(path.relative_to(root))
            if not path.is_file():
                skipped.append(drop("scan", "not_a_regular_file", {"path": rel}, "broken link or special file"))
                continue
            raw = RawFile(path=rel, size=path.stat().st_size, sha256=file_sha256(path))
            pattern = next((p for p in exclude if fnmatch.fnmatchcase(rel, p)), None)
            if pattern is not None:
                skipped.append(drop("scan", "excluded", raw, f"ingest.exclude {pattern!r}"))
            elif path.suffix.lower() not in extensions:
                skipped.append(drop("scan", "unsupported_extension", raw, path.suffix or "(none)"))
            else:
                files.append(raw)
    return files, skipped


def scan_sources(folder: str | Path, params: IngestParams) -> tuple[list[RawFile], list[Dropped]]:
    """The folder's files, then each configured dataset as one manifest entry (`hf:...`)
    whose sha256 is over its rows."""
    files, skipped = scan_folder(folder, params.extensions, params.exclude)
    for src in params.datasets:
        sha, size = hfdata.content_sha256(hfdata.load(src))
        files.append(RawFile(path=hfdata.label(src), size=size, sha256=sha))
    if not files:
        raise ValueError(f"raw folder {str(Path(folder).expanduser())!r} holds no "
                         f"{'/'.join(params.extensions)} files to ingest, and no "
                         "ingest.datasets are configured")
    return files, skipped


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class Ingested:
    documents: list[Document] = field(default_factory=list)
    pairs: list[Pair] = field(default_factory=list)  # imported instruction data
    preferences: list[Preference] = field(default_factory=list)  # imported, not yet scored
    dropped: list[Dropped] = field(default_factory=list)

    def kept(self) -> int:
        return len(self.documents) + len(self.pairs)


def read_sources(folder: str | Path, files: list[RawFile], params: IngestParams) -> Ingested:
    """Read each manifest entry: a document per file (by its format's reader), and per row of
    .jsonl/.json files and datasets a document or an imported pair/preference."""
    out = Ingested()
    datasets = {hfdata.label(src): src for src in params.datasets}
    for raw in files:
        if raw.path in datasets:
            src = datasets[raw.path]
            dataset = hfdata.load(src)
            if hfdata.content_sha256(dataset)[0] != raw.sha256:
                raise RuntimeError(f"{raw.path} changed between scan and ingest; run again")
            _import_rows(out, raw.path, ((f"{raw.path}:{n}", row) for n, row in enumerate(dataset)),
                         src.format if src.format != "auto" else params.data_format,
                         src.text_field or params.jsonl_text_field)
            continue
        path = Path(folder).expanduser() / raw.path
        if raw.size > params.max_file_mb * 1e6:
            out.dropped.append(drop(STAGE, "file_too_large", raw, f"{raw.size} bytes > {params.max_file_mb} MB"))
            continue
        data = path.read_bytes()
        if hashlib.sha256(data).hexdigest() != raw.sha256:
            raise RuntimeError(f"{raw.path} changed between scan and ingest; run again")
        suffix = path.suffix.lower()
        try:
            if suffix in ROW_FILES:
                _import_rows(out, raw.path, _file_rows(raw.path, decode(data), suffix, out),
                             params.data_format, params.jsonl_text_field)
                continue
            parsed = READERS.get(suffix, read_text)(data, raw.path)
        except Unreadable as e:
            out.dropped.append(drop(STAGE, e.reason, raw, e.detail))
            continue
        if parsed.text:
            out.documents.append(Document(stable_id(raw.path, raw.sha256), raw.path, parsed.text,
                                          parsed.title, parsed.structured))
        else:
            out.dropped.append(drop(STAGE, "empty_file", raw))
    return out


def _file_rows(source: str, text: str, suffix: str, out: Ingested):
    """(where, object) per row: JSONL lines (a bad line is quarantined here), or the items of
    a JSON array (a top-level {"data": [...]} too, as HF's JSON loader reads it)."""
    if suffix == ".json":
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as e:
            raise Unreadable("bad_json", f"{source}: {e.msg} at line {e.lineno} column {e.colno}") from None
        items = obj.get("data") if isinstance(obj, dict) and isinstance(obj.get("data"), list) else obj
        if not isinstance(items, list):
            raise Unreadable("unknown_row_shape", f"{source}: a JSON {type(obj).__name__}, not "
                                                  "a list of rows")
        yield from ((f"{source}:{n}", item) for n, item in enumerate(items, start=1))
        return
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{source}:{lineno}"
        try:
            yield where, json.loads(line)
        except json.JSONDecodeError as e:
            out.dropped.append(drop(STAGE, "bad_json", {"path": where, "line": line[:2000]},
                                    f"{where}: {e.msg} at column {e.colno}"))


def _import_rows(out: Ingested, source: str, rows, shape: str, text_field: str) -> None:
    """Rows of one file or dataset, all read in one shape: `shape`, or when "auto" the shape
    of its first row that has one."""
    title = fallback_title(source.split("[", 1)[0].removeprefix("hf:"))
    for where, obj in rows:
        row_shape = shape if shape != "auto" else shape_of(obj, text_field)
        if shape == "auto" and row_shape is not None:
            shape = row_shape  # the first recognised row decides for the rest
        record = {"path": where, "line": json.dumps(obj, ensure_ascii=False, default=str)[:2000]}
        if row_shape is None:
            keys = sorted(obj) if isinstance(obj, dict) else type(obj).__name__
            out.dropped.append(drop(STAGE, "unknown_row_shape", record, (
                f"{where}: fields {keys}; expected {text_field!r} (a document), or alpaca, "
                "sharegpt, openai or preference fields")))
            continue
        try:
            got = import_row(obj, row_shape, where, text_field)
        except Unreadable as e:
            out.dropped.append(drop(STAGE, e.reason, record, e.detail))
            continue
        if got.text is not None:
            out.documents.append(Document(stable_id(where, got.text), where, got.text, title))
        else:
            out.pairs.append(got.pair)
            if got.preference is not None:
                out.preferences.append(got.preference)


def _kind(source: str) -> str:
    if source.startswith("hf:"):
        return "dataset"
    return Path(source.rsplit(":", 1)[0] if source.rsplit(":", 1)[-1].isdigit() else source
                ).suffix.lower() or "(none)"


def source_counts(got: Ingested, chunks: list[Chunk]) -> dict[str, dict[str, int]]:
    """Per kind of source (file extension, or `dataset`): documents, chunks, imported pairs
    and preferences, and drops: which formats gave what."""
    counts: dict[str, dict[str, int]] = {}
    for name, items in (("documents", got.documents), ("chunks", chunks), ("imported_pairs", got.pairs)):
        for item in items:
            row = counts.setdefault(_kind(item.source), {})
            row[name] = row.get(name, 0) + 1
    source = {p.pair_id: p.source for p in got.pairs}
    for pref in got.preferences:
        row = counts.setdefault(_kind(source[pref.pair_id]), {})
        row["imported_preferences"] = row.get("imported_preferences", 0) + 1
    for d in got.dropped:
        row = counts.setdefault(_kind(str(d.record.get("path", ""))), {})
        row["dropped"] = row.get("dropped", 0) + 1
    return dict(sorted(counts.items()))


# --- chunking: sections first, then paragraphs -----------------------------------------------
_ATX = re.compile(r"^ {0,3}(#{1,6})\s+(.+?)(?:\s+#+)?\s*$")
_FENCE = re.compile(r"^ {0,3}(```|~~~)")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


@dataclass
class _Section:
    path: tuple[str, ...]  # heading texts, outermost first
    heading: str  # the heading line as written ("" before the first heading)
    lines: list[str] = field(default_factory=list)


def sections(doc: Document) -> list[_Section]:
    """The document cut at its headings (ATX, and setext under a one-line paragraph; none
    inside code fences); a first heading that repeats the document's title is left out of
    the paths."""
    found = [_Section((), "")]
    lines = doc.text.splitlines()
    if not doc.structured:
        found[0].lines = lines
        return found
    stack: list[tuple[int, str]] = []
    fence = None
    n = 0
    while n < len(lines):
        line = lines[n]
        heading = None
        if (m := _FENCE.match(line)):
            fence = None if fence == m.group(1) else (fence or m.group(1))
        elif fence is None and (a := _ATX.match(line)):
            heading = (len(a.group(1)), a.group(2).strip(), line)
        elif (fence is None and line.strip() and n + 1 < len(lines) and SETEXT.match(lines[n + 1])
              and (n == 0 or not lines[n - 1].strip())):
            heading = (1 if lines[n + 1].strip()[0] == "=" else 2, line.strip(), line)
            n += 1  # the underline
        n += 1
        if heading is None:
            found[-1].lines.append(line)
            continue
        level, text, raw = heading
        if len(found) == 1 and not "".join(found[0].lines).strip() and text.lower() == doc.title.lower():
            continue  # the document's own title
        while stack and stack[-1][0] >= level:
            stack.pop()
        stack.append((level, text))
        found.append(_Section(tuple(t for _, t in stack), raw))
    return found


def chunk_documents(docs: list[Document], params: IngestParams) -> list[Chunk]:
    """Each section packed greedily by paragraphs to about `chunk_words` words (a long
    paragraph split at sentences; a short tail merged back into its section's previous
    chunk). A section too short for a chunk of its own (under `min_chunk_words`) joins the
    next one, its heading kept in the text, and the chunk's section is the two paths'
    common part."""
    chunks: list[Chunk] = []
    for doc in docs:
        parts: list[list[tuple[_Section, list[str]]]] = []  # chunks, as (section, units)
        carry: list[tuple[_Section, list[str]]] = []  # short sections waiting for the next
        for sec in sections(doc):
            units = _units("\n".join(sec.lines), params.chunk_words)
            if not units:
                continue
            pieces = _pack(units, params)
            if carry and _words(_all_units(carry)) + _words(pieces[0]) <= params.chunk_words:
                merged, pieces = carry + [(sec, pieces[0])], pieces[1:]
                if not pieces and _words(_all_units(merged)) < params.min_chunk_words:
                    carry = merged  # still too short: wait for the next section too
                    continue
                parts.append(merged)
            elif carry:
                parts.append(carry)
            carry = []
            if len(pieces) == 1 and _words(pieces[0]) < params.min_chunk_words:
                carry = [(sec, pieces[0])]
                continue
            parts += [[(sec, piece)] for piece in pieces]
        if carry and parts:
            parts[-1] = parts[-1] + carry  # a short last section reads better with its predecessor
        elif carry:
            parts.append(carry)
        seen: dict[str, int] = {}
        for part in parts:
            text, section = _render(part)
            # named by its source and its own text, not its position or the file's hash: an
            # edit elsewhere in the file keeps this chunk's id, so its pairs keep theirs (a
            # dataset diff shows the edited chunks only); a text repeated in one source is
            # told apart by its occurrence
            seen[text] = seen.get(text, 0) + 1
            chunks.append(Chunk(stable_id(doc.source, text, str(seen[text])), doc.doc_id,
                                doc.source, text, doc.title, section))
    return chunks


def _render(part: list[tuple[_Section, list[str]]]) -> tuple[str, str]:
    """A chunk's text and section path: with several sections, the path they share, and the
    heading of each one below it in the text."""
    paths = [sec.path for sec, _ in part]
    common = paths[0]
    for p in paths[1:]:
        k = 0
        while k < min(len(common), len(p)) and common[k] == p[k]:
            k += 1
        common = common[:k]
    blocks: list[str] = []
    for sec, units in part:
        if len(sec.path) > len(common):
            blocks.append(sec.heading.strip())
        blocks += units
    return "\n\n".join(blocks), " > ".join(common)


def _all_units(part: list[tuple[_Section, list[str]]]) -> list[str]:
    return [u for _, units in part for u in units]


# a paragraph that is only signatures ("object.__round__(self[, ndigits])", "classmethod
# fromkeys(iterable[, value])"): the head of the paragraph that describes it
_SIGNATURE_LINE = re.compile(r"^\s*(?:(?:class|classmethod|staticmethod|async|def)\s+)?[A-Za-z_][\w.]*\(.*\)\s*$")


def _leads_in(unit: str) -> bool:
    """Whether a paragraph only introduces the next one: a line of signatures over their
    description, or a sentence ending in ":" over its list or example."""
    return unit.rstrip().endswith(":") or all(_SIGNATURE_LINE.match(x) for x in unit.splitlines())


def _pack(units: list[str], params: IngestParams) -> list[list[str]]:
    pieces: list[list[str]] = [[]]
    for unit in units:
        if pieces[-1] and _words(pieces[-1]) + len(unit.split()) > params.chunk_words:
            # a chunk never ends with what introduces the next paragraph: a signature cut
            # from its description made a chunk of descriptions of nothing ("Called to
            # implement operator.index() ...") and left the signature at another's end
            moved = pieces[-1].pop() if len(pieces[-1]) > 1 and _leads_in(pieces[-1][-1]) else None
            pieces.append([moved] if moved else [])
        pieces[-1].append(unit)
    if len(pieces) > 1 and _words(pieces[-1]) < params.min_chunk_words:
        tail = pieces.pop()
        pieces[-1] += tail  # a short tail reads better with its predecessor
    return pieces


def _units(text: str, max_words: int) -> list[str]:
    """Paragraphs (a fenced code block is one, blank lines and all); a paragraph longer
    than `max_words` is split at its sentences."""
    units, block, fence = [], [], None
    for line in text.splitlines() + [""]:
        m = _FENCE.match(line)
        if m:
            fence = None if fence == m.group(1) else (fence or m.group(1))
        if fence is None and not m and not line.strip():
            para = "\n".join(block).strip()
            block = []
            if not para:
                continue
            if len(para.split()) <= max_words or _FENCE.match(para):
                units.append(para)
            else:
                units += [s for s in _SENTENCE_END.split(para) if s.strip()]
        else:
            block.append(line)
    tail = "\n".join(block).strip()  # an unclosed fence runs to the end
    if tail:
        units.append(tail)
    return units


def _words(units: list[str]) -> int:
    return sum(len(u.split()) for u in units)
