"""Document formats -> (title, text with Markdown headings), each through its own library.

Every reader returns the document's text with its structure as ATX headings (`## Section`),
so one chunker (tuneline/documents/ingest.py) cuts every format at its sections: HTML through
trafilatura's main-content extraction (navigation, headers, footers, scripts and boilerplate
left out), PDF through pypdf with the outline (bookmarks) as headings, DOCX through
python-docx with the Heading styles as headings. A file that cannot be read raises
`Unreadable` with a machine-readable reason and what the library said.
"""

from __future__ import annotations

import bisect
import io
import re
from dataclasses import dataclass
from pathlib import PurePosixPath

from tuneline.records import Unreadable


@dataclass(frozen=True)
class Parsed:
    title: str
    text: str
    structured: bool  # True: lines starting with '#' outside code fences are headings


def fallback_title(path: str) -> str:
    """A file's name as a title: `docs/getting-started.md` -> "getting started"."""
    return re.sub(r"[-_]+", " ", PurePosixPath(path).stem).strip()


_ATX = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
SETEXT = re.compile(r"^ {0,3}(=+|-+)\s*$")  # Markdown's underline of the line above it


# a heading that names no document ("General Information" opens GTK+'s README): the file's
# name says more
_GENERIC_TITLE = re.compile(r"^(?:general information|introduction|overview|about|readme|contents|"
                            r"table of contents|description|summary)$", re.I)


def first_heading(text: str) -> str | None:
    lines = text.splitlines()
    for n, line in enumerate(lines):
        m = _ATX.match(line)
        setext = n + 1 < len(lines) and line.strip() and SETEXT.match(lines[n + 1])
        if m or setext:
            title = m.group(2).strip() if m else line.strip()
            return None if _GENERIC_TITLE.match(title) else title
        if line.strip() and not line.startswith("```"):
            return None  # a heading only counts as the title when it opens the document
    return None


def decode(data: bytes) -> str:
    if b"\x00" in data:
        raise Unreadable("binary_file", "contains NUL bytes")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise Unreadable("not_utf8", f"byte {e.start}: {e.reason}") from None


def read_text(data: bytes, path: str) -> Parsed:
    """Plain text as it is; a manual laid out with an indented body (man pages as
    `man` prints them, RFCs) gets its column-0 lines as headings and its body dedented, so its
    paragraphs read as prose rather than as indented code."""
    text = decode(data).strip()
    laid_out = _indented_body(text)
    if laid_out is not None:
        # a man page's title is its NAME line: "gzip, gunzip, zcat - compress or expand files"
        name = re.search(r"^## NAME\n\n(.+)", laid_out, re.M)
        return Parsed(name.group(1).strip() if name else fallback_title(path), laid_out,
                      structured=True)
    titled = _underlined_headings(text)
    if titled is not None:
        return Parsed(first_heading(titled) or fallback_title(path), titled, structured=True)
    return Parsed(fallback_title(path), text, structured=False)


_ADORNMENT = re.compile(r"^([=\-~^*+#])\1{2,}\s*$")


def _underlined_headings(text: str) -> str | None:
    """Plain text whose titles are underlined (READMEs, reStructuredText: "How to report
    bugs" over "=================="), with those titles as Markdown headings, levels in the
    order their underline characters first appear (as reStructuredText assigns them); None
    when no title is underlined. Read as prose, a title ran into its first paragraph and the
    underline into answers ("How to report bugs ================== Bugs should be ...")."""
    lines = text.splitlines()
    levels: list[str] = []
    out: list[str] = []
    n = 0
    while n < len(lines):
        line, nxt = lines[n], lines[n + 1] if n + 1 < len(lines) else ""
        under = _ADORNMENT.match(nxt)
        over = n > 0 and _ADORNMENT.match(lines[n - 1])
        title = line.strip()
        # a short line that is no sentence, its underline about as long, on a new paragraph
        # (or under its overline: "=====" / "Title" / "=====")
        if under and title and not line.startswith((" ", "\t")) and len(title.split()) <= 12 \
                and not title.endswith((".", ",", ";")) and len(nxt.strip()) >= 0.6 * len(title) \
                and (n == 0 or not lines[n - 1].strip() or over):
            if over:
                out.pop()  # the overline
            char = under.group(1)
            levels += [] if char in levels else [char]
            out += [f"{'#' * min(levels.index(char) + 1, 6)} {title}", ""]
            n += 2
            continue
        out.append(line)
        n += 1
    if not levels:
        return None
    return re.sub(r"\n{3,}", "\n\n", "\n".join(out)).strip()


def _title_like(line: str) -> bool:
    """Short and not ending a sentence or a clause: a title, not a line of prose."""
    return len(line.split()) <= 8 and not line.rstrip().endswith((".", ":", ",", ";"))


_RUNNING_HEAD = re.compile(r"\S(?: {3,}|\t+)\S")  # "GZIP(1)    General Commands Manual    GZIP(1)"


def _indented_body(text: str) -> str | None:
    """The text with headings and a dedented body when it is laid out as a manual: the
    lines are indented 3 to 8 spaces (or deeper) but for short titles at column 0
    ("DESCRIPTION", "3.1.  Message Syntax"). Page heads and footers (a line of columns
    apart) are left out. None for any other layout."""
    lines = [x.expandtabs(8).rstrip() for x in text.splitlines()]
    full = [x for x in lines if x.strip()]
    indents = [len(x) - len(x.lstrip()) for x in full]
    body = [i for i in indents if i > 0]
    if len(full) < 10 or not body:
        return None
    # the body's own indent: the smallest that many lines use (options and examples sit deeper)
    # (one that only short titles use is a subsection level above the body: mdoc's "   gost-yescrypt")
    prose_at = {i for x, i in zip(full, indents) if not _title_like(x)}
    indent = min((i for i in set(body) if body.count(i) >= 0.05 * len(full) and i in prose_at), default=0)
    at_zero = [x for x, i in zip(full, indents) if i == 0]
    titles = sum(0 < i < indent and _title_like(x) for x, i in zip(full, indents))
    if not 3 <= indent <= 8 or sum(0 < i < indent for i in indents) - titles > 0.05 * len(full) or not at_zero \
            or len(at_zero) > 0.25 * len(full) \
            or any(len(x.split()) > 10 and not _RUNNING_HEAD.search(x) for x in at_zero):
        return None
    out: list[str] = []
    synopsis = False  # a man page's usage lines are command lines, not prose
    n = 0
    while n < len(lines):
        x = lines[n]
        n += 1
        lead = len(x) - len(x.lstrip())
        item = _definition(lines, n - 1, lead) if lead >= indent and not synopsis else None
        if item:
            term, desc, n = item
            out.append(f"- {term}: {desc}")
        elif not x.strip():
            out.append("")
        elif 0 < lead < indent and _title_like(x):
            # a subsection title between the margin and the body (man's .SS, mdoc's .Ss: "   Matching
            # options", "   gost-yescrypt" over its description): glued to the paragraph under it, it
            # made "gost-yescrypt gost-yescrypt uses ..."
            out += ["", f"### {x.strip()}", ""]
        elif lead == 0:
            # (an underline "*****" under a title that is a heading already)
            if not _RUNNING_HEAD.search(x) and not re.fullmatch(r"[=*~^#-]{3,}", x):
                out += ["```"] if synopsis else []
                synopsis = x.strip().upper() == "SYNOPSIS"
                out += ["", f"## {x.strip()}", ""] + (["```"] if synopsis else [])
        else:
            out.append(x[min(lead, indent):])
    out += ["```"] if synopsis else []
    return re.sub(r"\n{3,}", "\n\n", "\n".join(out)).strip()


# a term that cannot be a sentence's first word, then a capital: an identifier with an
# underscore, a NAME in capitals, an option or a key=value ("ICU_DATA Specifies ...")
_RUN_IN_TERM = re.compile(r"^(?:[A-Za-z]\w*_\w+|[A-Z][A-Z0-9_]{2,}|--?[A-Za-z][\w-]*|\w+=\S+) [A-Z][a-z]")
_PROMPT = re.compile(r"^(?:\$|#|%|>>>)\s")  # a shell or Python prompt
_INLINE_TERM = re.compile(r"^([-+]\S*(?:,? [-+]\S*)*(?: [^\s.]+)?|[^\s.]+) {3,}(\S.*)$")


def _definition(lines: list[str], at: int, lead: int) -> tuple[str, str, int] | None:
    """A definition-list item of a manual ("-S, --sourceslist" over its indented description,
    or "-q      Quiet mode: ..." on one line): (term, description, index after it). As
    prose, the term glued to its description reads as a garbled sentence ("-S, --sourceslist
    Add an archive ...")."""
    line = lines[at].strip()
    nxt = lines[at + 1] if at + 1 < len(lines) else ""
    hang = len(nxt) - len(nxt.lstrip()) if nxt.strip() else 0
    hangs = hang >= lead + 2
    if _PROMPT.match(line):
        return None  # an example command over its output: code, not a term
    inline = _INLINE_TERM.match(line)
    # the description starts on the term's own line at the column its continuation hangs at,
    # however few spaces (or one tab) are left between them: "-d {device} Open {device} ..."
    # over "Example: ...", "ICU_DATA<tab> Specifies ..." over "${prefix}/..."
    raw = lines[at]
    if not inline and hangs and len(raw) > hang and raw[hang - 1] == " " and raw[hang] != " " \
            and len(raw[lead:hang].split()) <= 3 and not raw[lead:hang].rstrip().endswith((".", ",", ";")):
        term, desc = raw[lead:hang].strip(), [raw[hang:].strip()]
    elif not hangs and not inline and (at == 0 or not lines[at - 1].strip()) and _RUN_IN_TERM.match(line):
        # a field list whose term starts its paragraph one space before its description, the
        # description going on at the term's own indent: "forced_gc_runs How many forced ..."
        term, first = line.split(None, 1)
        desc, n = [first], at + 1
        while n < len(lines) and lines[n].strip() and len(lines[n]) - len(lines[n].lstrip()) == lead:
            desc.append(lines[n].strip())
            n += 1
        return term, " ".join(" ".join(desc).split()), n
    elif not line or not (hangs or inline) or (hangs and not inline and len(line.split()) > 6):
        return None
    else:
        term, desc = (inline.group(1), [inline.group(2)]) if inline else (line, [])
    n = at + 1
    while n < len(lines) and lines[n].strip() and len(lines[n]) - len(lines[n].lstrip()) > lead:
        desc.append(lines[n].strip())
        n += 1
    return term, " ".join(" ".join(desc).split()), n


def read_markdown(data: bytes, path: str) -> Parsed:
    text = decode(data).strip()
    return Parsed(first_heading(text) or fallback_title(path), text, structured=True)


def read_html(data: bytes, path: str) -> Parsed:
    """Main content only (trafilatura, the extractor the FineWeb/RefinedWeb pipelines use),
    as Markdown so headings, lists, tables and code blocks survive."""
    import trafilatura

    if b"\x00" in data:
        raise Unreadable("binary_file", "contains NUL bytes")

    def extract(page: bytes) -> str | None:
        # trafilatura detects the charset itself (meta tag, BOM, then a guess)
        return trafilatura.extract(page, output_format="markdown", include_comments=False,
                                   include_tables=True, include_formatting=True,
                                   include_links=False, include_images=False, favor_recall=True,
                                   deduplicate=False)

    try:
        text = extract(data)
        if text and _HEADING_TAG.search(data) and not _MD_HEADING.search(text):
            # Where no container holds the content (pod2html's manual pages, DocBook's
            # chapters), trafilatura's fallback extractors read the page and drop every heading,
            # and with them which function or section each paragraph is about. Each heading
            # marked as a paragraph of its own survives them and is made a heading again.
            marked = extract(_HEADING_ELEMENT.sub(_heading_mark, data))
            text = _headings_back(marked) if marked and _MARK in marked else text
        meta = trafilatura.extract_metadata(data)
    except Exception as e:  # lxml and trafilatura raise many types on broken markup
        raise Unreadable("unparseable_file", f"HTML: {type(e).__name__}: {e}") from None
    if not text or not text.strip():
        raise Unreadable("no_text", "HTML: no main content found (navigation/boilerplate only?)")
    title = meta.title if meta and meta.title else None
    text = _rejoin_wrapped(unescape_markdown(_fences_apart(text.replace("\xa0", " "))))
    return Parsed(title or first_heading(text) or fallback_title(path), text.strip(), True)


_HEADING_TAG = re.compile(rb"<h[1-6][\s>]", re.IGNORECASE)
_MD_HEADING = re.compile(r"^#{1,6} ", re.MULTILINE)
_HEADING_ELEMENT = re.compile(rb"<h([1-6])\b[^>]*>(.*?)</h\1\s*>", re.IGNORECASE | re.DOTALL)
_MARK = "TUNELINEHEADINGMARK"
_MARKED_LINE = re.compile(rf"^[ \t]*{_MARK}([1-6]) +(.+?)[ \t]*$", re.MULTILINE)


def _heading_mark(m: re.Match) -> bytes:
    title = b" ".join(re.sub(rb"<[^>]+>", b"", m.group(2)).split())
    return b"<p>%s%s %s</p>" % (_MARK.encode(), m.group(1), title) if title else b""


def _headings_back(text: str) -> str:
    """A marked paragraph becomes a Markdown heading of its level; a mark the extractor glued
    into other text (a page laid out in one table cell) is dropped, its title left as text."""
    text = _MARKED_LINE.sub(lambda m: f"\n{'#' * int(m.group(1))} {m.group(2)}\n", text)
    return re.sub(r"\n{3,}", "\n\n", re.sub(rf"{_MARK}[1-6] ?", "", text))


# code (fenced, then inline), where a backslash is the text's own; an escaped backtick opens none
_CODE = re.compile(r"(```.*?```|(?<!\\)`[^`\n]+`)", re.DOTALL)
# an escaped star stays: a literal one beside emphasis marks ("*ffi\\_call (void \\*fn)*") is
# told apart only by its escape (passages.signatures reads both)
_ESCAPED = re.compile(r"(\\+)([_`~\[\]<])")


def unescape_markdown(text: str) -> str:
    """Prose as written: trafilatura's Markdown escapes the inline-syntax characters of plain
    text ("ExtUtils::MM\\_Unix", Node.js's "\\<string>"), which a question then copies; each
    escape undone (its doubled backslashes halved) outside code, where backslashes are the
    text's own (Perl's `\\*STDIN`). An escape that opens a line stays (like trafilatura's `\\#`
    and `\\-`): it keeps a paragraph from reading as a list item or heading."""
    code = [m.span() for m in _CODE.finditer(text)]
    starts = [a for a, _ in code]

    def undo(m: re.Match) -> str:
        i = bisect.bisect_right(starts, m.start()) - 1
        if i >= 0 and m.start() < code[i][1]:
            return m.group(0)  # in code
        run = len(m.group(1))
        line_start = not text[text.rfind("\n", 0, m.start()) + 1:m.start()].strip()
        if run % 2 == 0 or line_start:  # not an escape trafilatura wrote, or one that protects
            return m.group(0)
        return "\\" * (run // 2) + m.group(2)

    return _ESCAPED.sub(undo, text)


def _fences_apart(text: str) -> str:
    """Each code fence on a line of its own: a <pre> inside a paragraph or a definition
    (pod2html's) comes out of trafilatura glued to the text around it ("`$char =
    $z->ungetc($string)```` $hdr = ...", "For example, ``` ok( sub {"), and the code then reads
    as part of a sentence."""
    text = re.sub(r"(?<=\S)[ \t]*(```)(?!`)", r"\n\1", text)  # text before a fence
    return re.sub(r"^([ \t]*```)[ \t]+(?=\S)", r"\1\n", text, flags=re.MULTILINE)  # code after one


_NOT_PROSE = re.compile(r"^\s*(?:#|[-*+]\s|\d{1,2}[.)]\s|\||```|>)")
_ENDS_SENTENCE = re.compile(r"[.!?:][\"')\]`*]*\s*$")


def _rejoin_wrapped(text: str) -> str:
    """Lines of a wrapped paragraph that came out as paragraphs of their own (a <pre> of
    prose, or lines split by <br>, as Valgrind's manual ships its README and licence pages:
    "... manuals providing the same freedoms that the" / "software does.") joined back: a
    line of prose that ends mid-sentence, followed by one that starts in lower case (both of a
    few words: an index's one-name lines stay apart)."""
    out: list[str] = []
    fence = False
    for para in text.split("\n\n"):
        if para.count("```") % 2:
            fence = not fence
        if out and not fence and "```" not in para and "```" not in out[-1] \
                and not _NOT_PROSE.match(out[-1]) and not _NOT_PROSE.match(para) \
                and not _ENDS_SENTENCE.search(out[-1]) and re.match(r"\s*[a-z]", para) \
                and min(len(out[-1].split()), len(para.split())) >= 3:  # (an index's names: words)
            out[-1] = f"{out[-1].rstrip()} {para.lstrip()}"
            continue
        out.append(para)
    return "\n\n".join(out)


def read_pdf(data: bytes, path: str) -> Parsed:
    """Page text from pypdf; the outline's entries become headings where their title opens a
    line of their page (else at the page's start). An encrypted PDF is read only when it opens
    with the empty user password (owner-password-only PDFs are common)."""
    import pypdf

    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise Unreadable("encrypted_file", "PDF needs a password")
        pages = [page.extract_text() or "" for page in reader.pages]
        outline = _outline(reader)
        title = (reader.metadata.title if reader.metadata else None) or ""
    except Unreadable:
        raise
    except Exception as e:  # pypdf's errors on damaged files are not one hierarchy
        raise Unreadable("unparseable_file", f"PDF: {type(e).__name__}: {e}") from None
    if not any(p.strip() for p in pages):
        raise Unreadable("no_text", f"PDF: {len(pages)} pages without extractable text "
                                    "(scanned images need OCR first)")
    text = _pdf_text(pages, outline)
    return Parsed(title.strip() or (outline[0][1] if outline else "") or fallback_title(path),
                  text, structured=True)


def _outline(reader) -> list[tuple[int, str, int]]:
    """(page index, title, depth) of every outline entry, in document order."""
    found: list[tuple[int, str, int]] = []

    def walk(items, depth: int) -> None:
        for item in items:
            if isinstance(item, list):
                walk(item, depth + 1)
                continue
            try:
                page = reader.get_destination_page_number(item)
            except Exception:
                continue  # an entry pointing nowhere is not structure
            if page is not None and page >= 0 and (item.title or "").strip():
                found.append((page, item.title.strip(), depth))

    try:
        walk(reader.outline, 0)
    except Exception:
        return []
    return found


def not_a_heading(line: str) -> str:
    """A text line that happens to start with '#' (a shell comment in a listing), indented
    so that it reads as text, not as a Markdown heading."""
    return f"    {line}" if line.lstrip().startswith("#") else line


def _pdf_text(pages: list[str], outline: list[tuple[int, str, int]]) -> str:
    out = []
    for n, page in enumerate(pages):
        lines = [not_a_heading(line) for line in _dehyphenate(page).splitlines()]
        at = 0
        for _, title, depth in (e for e in outline if e[0] == n):
            hashes = "#" * min(depth + 1, 6)
            key = " ".join(title.split()).lower()
            hit = next((i for i in range(at, len(lines))
                        if " ".join(lines[i].split()).lower() == key), None)
            if hit is None:  # title not printed as its own line: the section starts here
                lines.insert(at, f"{hashes} {title}")
                at += 1
            else:
                lines[hit] = f"{hashes} {title}"
                at = hit + 1
        # a heading is a paragraph of its own
        out.append("\n".join(f"\n{line}\n" if line.startswith("#") else line for line in lines))
    return re.sub(r"\n{3,}", "\n\n", "\n\n".join(out)).strip()


def _dehyphenate(text: str) -> str:
    return re.sub(r"(\w)-\n(?=[a-z])", r"\1", text)


def read_docx(data: bytes, path: str) -> Parsed:
    """Paragraphs and tables in body order; `Title` and `Heading N` styles are the structure,
    list paragraphs keep a bullet, table rows are read as ` | `-joined cells."""
    import docx

    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as e:  # zipfile, python-docx and lxml errors on a damaged package
        raise Unreadable("unparseable_file", f"DOCX: {type(e).__name__}: {e}") from None
    title = (document.core_properties.title or "").strip()
    blocks: list[str] = []
    for item in document.iter_inner_content():
        if hasattr(item, "rows"):  # a table
            rows = [" | ".join(c.text.strip() for c in row.cells) for row in item.rows]
            blocks.append("\n".join(r for r in rows if r.strip(" |")))
            continue
        text = item.text.strip()
        if not text:
            continue
        style = (item.style.name if item.style is not None else "") or ""
        if style == "Title":
            title = title or text
            continue
        level = re.fullmatch(r"Heading (\d)", style)
        if level:
            blocks.append(f"{'#' * int(level.group(1))} {text}")
        elif style.startswith("List"):
            blocks.append(f"- {text}")
        else:
            blocks.append(not_a_heading(text))
    text = "\n\n".join(b for b in blocks if b)
    if not text.strip():
        raise Unreadable("no_text", "DOCX: no paragraphs or tables with text")
    return Parsed(title or first_heading(text) or fallback_title(path), text, structured=True)


READERS = {".txt": read_text, ".md": read_markdown, ".markdown": read_markdown,
           ".html": read_html, ".htm": read_html, ".pdf": read_pdf, ".docx": read_docx}
