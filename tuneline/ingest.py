"""Raw folder -> manifest of files -> documents -> chunks.

Nothing is lost: every file or JSONL line that does not become a document is a `Dropped`
record naming the file (and line) and the reason.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

from tuneline.params import IngestParams
from tuneline.records import Chunk, Document, Dropped, RawFile, drop, stable_id


def scan_folder(folder: str | Path, extensions: list[str]) -> tuple[list[RawFile], list[Dropped]]:
    """List the files under `folder` (path, size, sha256); other extensions are kept as dropped."""
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
            if path.suffix.lower() not in extensions:
                skipped.append(drop("scan", "unsupported_extension", raw, path.suffix or "(none)"))
            else:
                files.append(raw)
    if not files:
        raise ValueError(
            f"raw folder {str(root)!r} holds no {'/'.join(extensions)} files to ingest"
        )
    return files, skipped


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_documents(
    folder: str | Path, files: list[RawFile], params: IngestParams
) -> tuple[list[Document], list[Dropped]]:
    """Read each scanned file: .txt/.md are one document, .jsonl one document per line."""
    docs: list[Document] = []
    dropped: list[Dropped] = []
    for raw in files:
        path = Path(folder).expanduser() / raw.path
        if raw.size > params.max_file_mb * 1e6:
            dropped.append(drop("ingest", "file_too_large", raw, f"{raw.size} bytes > {params.max_file_mb} MB"))
            continue
        data = path.read_bytes()
        if hashlib.sha256(data).hexdigest() != raw.sha256:
            raise RuntimeError(f"{raw.path} changed between scan and ingest; run again")
        if b"\x00" in data:
            dropped.append(drop("ingest", "binary_file", raw, "contains NUL bytes"))
            continue
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as e:
            dropped.append(drop("ingest", "not_utf8", raw, f"byte {e.start}: {e.reason}"))
            continue
        if path.suffix.lower() == ".jsonl":
            got, bad = _jsonl_documents(raw.path, text, params.jsonl_text_field)
            docs += got
            dropped += bad
        elif text.strip():
            docs.append(Document(stable_id(raw.path, raw.sha256), raw.path, text.strip()))
        else:
            dropped.append(drop("ingest", "empty_file", raw))
    return docs, dropped


def _jsonl_documents(source: str, text: str, field: str) -> tuple[list[Document], list[Dropped]]:
    docs, dropped = [], []
    for lineno, line in enumerate(text.splitlines(), start=1):
        where = f"{source}:{lineno}"
        if not line.strip():
            continue
        record = {"path": where, "line": line[:2000]}
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            dropped.append(drop("ingest", "bad_json", record, f"{where}: {e.msg} at column {e.colno}"))
            continue
        value = obj.get(field) if isinstance(obj, dict) else None
        if not isinstance(value, str) or not value.strip():
            dropped.append(drop("ingest", "no_text_field", record, f"{where}: no non-empty string {field!r}"))
            continue
        docs.append(Document(stable_id(where, value), where, value.strip()))
    return docs, dropped


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def chunk_documents(docs: list[Document], params: IngestParams) -> list[Chunk]:
    """Greedy paragraph packing to about `chunk_words` words; long paragraphs split at sentences."""
    chunks: list[Chunk] = []
    for doc in docs:
        pieces: list[list[str]] = [[]]
        for unit in _units(doc.text, params.chunk_words):
            if pieces[-1] and _words(pieces[-1]) + len(unit.split()) > params.chunk_words:
                pieces.append([])
            pieces[-1].append(unit)
        if len(pieces) > 1 and _words(pieces[-1]) < params.min_chunk_words:
            tail = pieces.pop()
            pieces[-1] += tail  # a short tail reads better with its predecessor
        for n, piece in enumerate(pieces):
            text = "\n\n".join(piece)
            chunks.append(Chunk(stable_id(doc.doc_id, str(n)), doc.doc_id, doc.source, text))
    return chunks


def _units(text: str, max_words: int) -> list[str]:
    units = []
    for para in re.split(r"\n\s*\n", text):
        para = para.strip()
        if not para:
            continue
        if len(para.split()) <= max_words:
            units.append(para)
        else:
            units += [s for s in _SENTENCE_END.split(para) if s.strip()]
    return units


def _words(units: list[str]) -> int:
    return sum(len(u.split()) for u in units)
