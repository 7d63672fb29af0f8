"""Answer passages inside a chunk: the spans that answer-first generation asks questions of.

Answer-first generation (instruction back-translation, Li et al. 2023) takes the answer from
the document and has the model write only the question it answers, so every claim in the
answer is in the source by construction. A passage must read on its own as an answer:
- whole paragraphs of prose, never a heading, a table row or a bare code block;
- a paragraph that introduces a list or code (ends with ":") keeps what it introduces;
- a paragraph that opens by pointing back ("It ...", "However, ...", "This means ...") is
  joined to the paragraph before it, or left out when that would be too long;
- hard-wrapped lines (plain-text manuals) are joined back into one line per paragraph.
"""

from __future__ import annotations

import re

# openings that lean on the text before them
_LEANS_BACK = re.compile(
    r"^\s*\(|^\W*(?:it|its|this|these|that|those|they|their|them|he|she|such|however|but|also|"
    r"therefore|thus|hence|so|and|or|otherwise|similarly|then|here|there|instead|likewise|"
    r"moreover|furthermore|finally|additionally|lastly|firstly|secondly|next|note that|"
    r"separately|alternatively|conversely|nevertheless|nonetheless|accordingly|consequently|"
    r"meanwhile|besides|again|"
    r"in (?:this|that|addition|contrast|particular|"
    r"that case|this case)|for (?:this|that) reason|as a result|as (?:above|before|such)|"
    r"the (?:above|former|latter|same|following)|see (?:above|below))\b",
    re.IGNORECASE,
)
# the main clause after an opening "if ..." points back: "If the function returns `void`,
# then this value is garbage" (which value?)
_POINTS_BACK_AFTER_CLAUSE = re.compile(r"^[^.!?:]{0,200}?,\s+(?:then\s+)?(?:this|these|those)\s+\w+", re.I)
# a paragraph that goes on with the sentence a code block interrupted: "is roughly equivalent
# to", "except that the original function ..." (lower case, a word that cannot start one)
_CONTINUES = re.compile(r"^\s*(?:is|are|was|were|except|which|where|whereas|because|unless|than|whose|"
                        r"while|although|though|since|until|if|when|as|to|with|without|for|in|on|of|by|"
                        r"will|would|can|could|gives|returns|yields|prints)\b")
_HEADING = re.compile(r"^\s{0,3}(?:#{1,6}\s|[=*~^-]{3,}\s*$)")
_LIST_ITEM = re.compile(r"^\s*(?:[-*+•]|\d{1,2}[.)])\s+")
_TABLE = re.compile(r"^\s*\|.*\|\s*$")
_SENTENCE_END = re.compile(r"[.!?](?:[\"')\]]*)(?=\s|$)")
_WORD = re.compile(r"[^\W\d_]{2,}")


def _blocks(text: str) -> list[tuple[str, list[str]]]:
    """(kind, lines) per blank-line-separated block; a fenced code block is one block."""
    out: list[tuple[str, list[str]]] = []
    lines, cur, fence = text.splitlines(), [], False
    for line in lines + [""]:
        if line.strip().startswith("```"):
            fence = not fence
            cur.append(line)
            continue
        if fence or line.strip():
            cur.append(line)
            continue
        if cur:
            out.append((_kind(cur), cur))
            cur = []
    if cur:
        out.append((_kind(cur), cur))
    return out


def _kind(lines: list[str]) -> str:
    first = lines[0]
    if first.strip().startswith("```"):
        return "code"
    if len(lines) == 1 and _HEADING.match(first):
        return "heading"
    if len(lines) == 2 and re.fullmatch(r"\s*[=*~^-]{3,}\s*", lines[1]):
        return "heading"  # setext / reStructuredText underline
    if all(_TABLE.match(x) for x in lines):
        return "table"
    if _LIST_ITEM.match(first):
        return "list"
    # plain-text manuals indent code and grammar by three or more spaces
    if all(x.startswith(("   ", "\t")) for x in lines) and not _LIST_ITEM.match(first.strip()):
        return "code"
    if first.lstrip().startswith((">>>", "$ ", "::=")) or "::=" in first:
        return "code"
    # code at the text's own margin (a manual's example, dedented): C-like line ends and
    # preprocessor lines ("#define check(log_level, x) ({ \")
    if _C_LINE.match(first) or (len(lines) >= 2 and 2 * sum(bool(_C_END.search(x)) for x in lines) >= len(lines)):
        return "code"
    return "prose"


_C_LINE = re.compile(r"^\s*(?:#\s*(?:include|define|ifn?def|if|endif|pragma)\b|//|/\*)")
_C_END = re.compile(r"[;{}\\]\s*$")


# "[1]": points at a note the answer lacks; "divmod(x,y)[0]" or "a[1]" is an index, kept
_FOOTNOTE = re.compile(r"(\S?)(\s*)\[\d{1,2}\](?=\s|$|[.,;:])")


def _unmark(m: re.Match) -> str:
    before, space = m.group(1), m.group(2)
    if before and not space and (before.isalnum() or before in ")]\"'`_"):
        return m.group(0)  # an index written against its name
    return before


def _prose(lines: list[str]) -> str:
    return _FOOTNOTE.sub(_unmark, " ".join(" ".join(x.split()) for x in lines)).strip()


def _render(kind: str, lines: list[str]) -> str:
    if kind == "prose":
        return _prose(lines)
    if kind == "list":
        items, cur = [], []
        for x in lines:
            if _LIST_ITEM.match(x) and cur:
                items.append(" ".join(cur))
                cur = []
            cur.append(x.strip())
        items.append(" ".join(cur))
        return "\n".join(items)
    if kind == "code" and not lines[0].strip().startswith("```"):
        indent = min(len(x) - len(x.lstrip()) for x in lines if x.strip())
        return "```\n" + "\n".join(x[indent:] for x in lines) + "\n```"
    return "\n".join(lines)


def words(text: str) -> int:
    return len(text.split())


def cut_to_sentences(text: str, max_words: int) -> str:
    """The longest run of whole sentences from the start within `max_words` ("" if the first
    sentence alone is longer)."""
    if words(text) <= max_words:
        return text
    best = ""
    for m in _SENTENCE_END.finditer(text):
        head = text[: m.end()]
        if words(head) > max_words:
            break
        best = head
    return best


# a paragraph that only points elsewhere ("... can be found in section Exceptions") answers nothing
_POINTER = re.compile(r"\b(?:can be found in|is described in|are described in|see|refer to)\s+"
                      r"(?:the\s+)?(?:section|sections|chapter|page)\b", re.I)


# "See also ...", "See the paragraph on __hash__() for some important notes ...": a pointer
_SEE_ALSO = re.compile(r"^\W*see\s+(?:also|the\s+(?:paragraph|section|chapter|note|notes|description|documentation)|section)\b", re.I)
# a manual's boilerplate sections: who wrote it, where to report bugs or download it, the
# license ("col is part of the util-linux package which can be downloaded from ...")
_ASIDE_HEADING = re.compile(r"^(?:authors?|copyright|reporting bugs|availability|see also|colophon|"
                            r"licen[cs]e)\W*$", re.I)


_SUBJECTLESS = re.compile(r"^\W*(?:called|invoked|used|should|must|may|new in version|changed in version|"
                          r"deprecated since)\b", re.I)
_LINK_HOLE = re.compile(r"[a-z] [.,;:](?:\s|$)")


# the rest of a sentence whose start is elsewhere: a plain lower-case word, then more words or
# the sentence's end ("principally for works whose purpose is ...", "individually for each
# flag. After a syscall ...", as wrapped text reads where its lines came apart)
_MID_SENTENCE = re.compile(r"^([a-z]+)(?:[,;]?\s+[a-z\"'](?![^:]{0,40}:\s)|[.!?]\s)")  # (not "a class instance: ...")


def passages(text: str, min_words: int = 15, max_words: int = 120, title: str = "") -> list[str]:
    """The answer passages of a chunk, in document order. `title` is its document's: a
    passage may start in lower case with the name of what the document is about ("lnstat is
    a generalized ...", on lnstat's manual page), with no other plain word."""
    units: list[list[str]] = []  # each: rendered blocks of one passage
    leans: list[bool] = []
    introduced = False  # the last unit is collecting what its "...:" paragraph introduces
    aside = False  # under a heading such as AUTHORS or REPORTING BUGS: no answers there
    for kind, lines in _blocks(text):
        if kind in ("heading", "table"):
            units.append([])  # a heading ends a passage: what follows is another topic
            leans.append(False)
            introduced = False
            if kind == "heading":
                aside = bool(_ASIDE_HEADING.match(lines[0].strip().lstrip("#").strip()))
            continue
        if aside:
            continue
        rendered = _render(kind, lines)
        prev = units[-1] if units else []
        if kind in ("list", "code"):
            # what a "... as follows:" paragraph introduces, every item of it: list items
            # separated by blank lines are blocks of their own ("executed in two steps:"
            # kept only step 1 when each block had to follow a colon)
            if prev and (introduced or prev[-1].rstrip().endswith(":")):
                prev.append(rendered)
                introduced = True
            else:  # one the answer leaves out: "It ..." after it is about it, not about
                units.append([])  # what came before ("- :bytes / - This is the inverse ...")
                leans.append(False)
            continue
        introduced = False
        units.append([rendered])
        leans.append(bool(_LEANS_BACK.match(rendered) or _CONTINUES.match(rendered)
                          or _POINTS_BACK_AFTER_CLAUSE.match(rendered)))
    out: list[str] = []
    for i, unit in enumerate(units):
        if not unit:
            continue
        if leans[i]:
            before = units[i - 1] if i else []
            if not before or leans[i - 1]:
                continue  # nothing to lean on in this chunk
            unit = before + unit
        body = "\n\n".join(unit)
        if unit[-1].rstrip().endswith(":"):
            continue  # introduces something the chunk does not carry
        if not unit[-1].startswith("```") and not _LIST_ITEM.match(unit[-1].split("\n")[-1]) \
                and not re.search(r"[.!?][\"')\]”’*]*\s*$", body):
            # a sentence a code block interrupts ("For example, the following code"), whose
            # rest follows the code: the passage ends at the last whole sentence
            ends = list(_SENTENCE_END.finditer(body))
            if not ends:
                continue
            body = body[:ends[-1].end()]
        if words(body) > max_words:
            if len(unit) > 1:
                continue  # a joined passage is only worth it whole
            body = cut_to_sentences(body, max_words)
        prose_words = sum(words(u) for u in unit if not u.startswith("```"))
        if prose_words < min_words or not _SENTENCE_END.search(body.split("\n```")[0]):
            continue
        if _LINK_HOLE.search(body):
            continue  # "... has moved to the website ." : a link's text lost in extraction
        if _SUBJECTLESS.match(body):
            continue  # "Called to implement len()": its subject is a heading the question never sees
        mid = _MID_SENTENCE.match(body)
        if mid and mid.group(1) not in re.findall(r"[a-z]+", title.lower()):
            continue
        sentences = [x for x in _SENTENCE_END.split(body) if x.strip()]
        if (_POINTER.search(body) and len(sentences) <= 2) or _SEE_ALSO.match(body):
            continue
        if body not in out:
            out.append(body)
    return out


def pick(cands: list[str], k: int) -> list[str]:
    """`k` passages of a chunk: the most informative (distinct content words) first, kept in
    document order among themselves; a passage contained in a chosen one is skipped."""
    ranked = sorted(range(len(cands)), key=lambda i: -len(set(_WORD.findall(cands[i].lower()))))
    chosen: list[int] = []
    for i in ranked:
        if len(chosen) == k:
            break
        if any(cands[i] in cands[j] or cands[j] in cands[i] for j in chosen):
            continue
        chosen.append(i)
    return [cands[i] for i in sorted(chosen)]


# A manual's option list as the readers render it ("- -q, --quiet: Suppress ..."; Markdown's
# "- `--force`: ..."): the item's term says what is asked, so no model needs to write the
# question (generate.py builds it from the option and the program). Every other item of the
# list is a passage nothing introduces, so without this a manual's OPTIONS section, most of
# its text, gave no pairs.
_OPTION_ITEM = re.compile(r"^[-*+]\s+`?((?:--?|\+)[A-Za-z0-9?][^`:]*?)`?\s*:\s+(\S.*)$")
_OPTION_NAME = re.compile(r"(?:--?|\+)[A-Za-z0-9?][\w?.-]*")
# a description that only points at another option or page answers nothing by itself
_REFERS = re.compile(r"^\W*(?:same as|like|equivalent to|alias (?:for|of)|synonym (?:for|of)|"
                     r"identical to|see|as for|opposite of|the (?:inverse|opposite|negation) of)\b", re.I)


def options(text: str, min_words: int = 5, max_words: int = 120) -> list[tuple[str, str]]:
    """(option, description) for each command-line option a chunk's option list describes,
    in document order: the option's long name where it has one ("-o, --output list" ->
    "--output list" where the description names "list", else "--output"), its description cut to whole sentences; items whose description is shorter
    than `min_words`, leans on the text before it or only points elsewhere are left out."""
    out: list[tuple[str, str]] = []
    aside = False
    for kind, lines in _blocks(text):
        if kind == "heading":
            aside = bool(_ASIDE_HEADING.match(lines[0].strip().lstrip("#").strip()))
        if kind != "list" or aside:
            continue
        for item in _render(kind, lines).split("\n"):
            m = _OPTION_ITEM.match(item)
            if not m or not all(p.strip().startswith(("-", "+")) for p in m.group(1).split(",")):
                continue
            names = _OPTION_NAME.findall(m.group(1))
            desc = cut_to_sentences(_prose([m.group(2)]), max_words)
            # a description opens with a capital, a quote or the argument ("{command} will be
            # ..."); a lower-case start is the term's own rest split off ("number This option ...")
            if not names or words(desc) < min_words or not _SENTENCE_END.search(desc[-4:]) \
                    or not re.match(r"[A-Z0-9\"'`{\[<(]", desc) or _REFERS.match(desc) or _LEANS_BACK.match(desc) or _CONTINUES.match(desc):
                continue
            name = next((x for x in names if x.startswith("--")), names[0]).rstrip(".")
            # with its argument where the description names it: "-c {command}" for
            # "{command} will be executed after ...", "--logins=logins" for "... in logins"
            spelled = next(p.strip() for p in m.group(1).split(",") if name in p)
            arg = re.sub(r"[\W_]+", " ", spelled[len(name):]).split()
            if arg and all(re.search(rf"\b{re.escape(a)}\b", desc) for a in arg):
                name = spelled
            if all(name != o for o, _ in out):
                out.append((name, desc))
    return out


# An API reference's entry: a paragraph of one or more signatures ("object.__round__(self[,
# ndigits])", "str.ljust(width[, fillchar])") over the paragraph that describes them, as
# CPython's reference topics and Sphinx's text output write them. A qualified name stands
# alone as a question's subject ("What does str.casefold() do?"); a bare "clear()" needs the
# class around it, so only dotted names are taken.
_SIGNATURE = re.compile(r"^\s*(?:class\s+)?([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+)\((.*)\)\s*$")


# a texinfo manual's definition as its HTML renders it (read as a list): "- Function:
# **ffi\_status** *ffi\_prep\_cif (ffi\_cif \*`cif`, ...)* ¶" over "- This initializes ..."
_DEFINITION = re.compile(r"^[-*+]\s+(?:Function|Macro|Special Form|Command|Variable|User Option|Method)"
                         r":\s+(.+?)\s*¶?\s*$")
_PLAIN_SIGNATURE = re.compile(r"^(?:.*?\s)?\**([A-Za-z_]\w*)\s*\((.*)\)$")
# a sentence that only sends the reader elsewhere ("Multiple ABIs for more information.",
# whose link text lost its "See")
_ELSEWHERE = re.compile(r"(?:(?<=[.!?])|^)\s*(?:[^.!?]*\bfor (?:more|further) (?:information|details)|"
                        r"See [^.!?]{1,60})\s*\.(?=\s|$)", re.I)


def _unmarked(text: str) -> str:
    """Markdown's emphasis and code marks out, its escapes read: "*ffi\\_call (void \\*`fn`)*"
    -> "ffi_call (void *fn)"."""
    text = re.sub(r"\\([\\`*_{}\[\]()#+.!-])", lambda m: "\0" if m.group(1) == "*" else m.group(1), text)
    return " ".join(re.sub(r"[`*]", "", text).replace("\0", "*").split())


def _item_pairs(blocks: list[tuple[str, list[str]]]) -> list[tuple[str, str]]:
    """Each item of the chunk's lists with the item after it: a term over its definition, as
    HTML's <dl> and texinfo's definitions read."""
    items = [_render(kind, lines).split("\n") for kind, lines in blocks if kind == "list"]
    return [pair for group in items for pair in zip(group, group[1:])]


def _definitions(blocks: list[tuple[str, list[str]]]) -> list[tuple[tuple[str, ...], str]]:
    out = []
    for head, body in _item_pairs(blocks):
        m = _DEFINITION.match(head)
        sig = m and _PLAIN_SIGNATURE.match(_unmarked(m.group(1)))
        if sig and not _DEFINITION.match(body):
            args = " ".join(sig.group(2).split())
            out.append(((f"{sig.group(1)}({args})",), " ".join(_ELSEWHERE.sub(" ", body[2:]).split())))
    return out


# a usage line a description opens with: "`my $make_frag = $mm->constants;` Prints ..."
_USAGE_LINE = re.compile(r"^`[^`]*;`\s*")
# a note an API entry opens with before saying what it does: "This feature is only available
# with the `--experimental-network-inspection` flag enabled.", "This method does not display
# anything unless used in the inspector.", "Stability: 1 - Experimental"
_ENTRY_NOTE = re.compile(r"^(?:\s*(?:This (?:feature|method|function|API|class|property) (?:is only available|"
                         r"does not [^.]{0,60} unless)|Stability:\s*\d)[^.!?]*[.!?]?)+\s*", re.I)


# on a module's manual page, a function or method by its own name ("last_error()", "countries(
# [CONTINENTS] )", "$z->flush($flush_type)", "charnames::vianame(name)", a statement's ";" after it):
# the page's module is what makes it stand alone
_MODULE_SIGNATURE = re.compile(r"^(?:\$\w+->)?[A-Za-z_]\w*(?:::\w+)*\s*\([^()]*\)$")


# a usage line an entry opens with, its call what the entry documents: "`my $pkg = blessed(
# $ref );`" (Scalar::Util's), "`const hash = createHash(algorithm);`"
_USAGE = re.compile(r"^`\s*(?:(?:my|our|local|const|let|var)\s+)?[$@%]?\w+\s*=\s*"
                    r"((?:\$\w+->)?[A-Za-z_][\w.:]*\s*\([^()]*\))\s*;?\s*`$")


def _as_signature(text: str, in_module: bool) -> str | None:
    text = _unmarked(text).rstrip(";").rstrip()
    return text if _SIGNATURE.match(text) or (in_module and _MODULE_SIGNATURE.match(text)) else None


def heading_signature(heading: str, in_module: bool = False) -> str | None:
    """The signature a heading is, as API references title each function ("#### `console.log([data][,
    ...args])`#", "str.join(iterable)¶"; with `in_module`, a module's own names: "## last_error()");
    None for any other heading."""
    return _as_signature(re.sub(r"^\s*#{1,6}\s+|[#¶\s]+$", "", heading), in_module)


# the version notes an API entry may open with ("Added in: v8.3.0", "Stability: 2 - Stable")
_VERSION_NOTE = re.compile(r"^\W*(?:added in|stability|deprecated|changed in|new in version|since)\b", re.I)


def _described(blocks: list[tuple[str, list[str]]]) -> str | None:
    """The description that opens `blocks`: their first paragraph of prose, after the list of
    parameters an API reference puts first ("- `label` <string> The display label ...") and
    its version notes."""
    while blocks and (blocks[0][0] == "list" or (blocks[0][0] == "prose" and _VERSION_NOTE.match(
            blocks[0][1][0]) and words(_prose(blocks[0][1])) <= 8)):
        blocks = blocks[1:]
    return _prose(blocks[0][1]) if blocks and blocks[0][0] == "prose" else None


def _items(blocks: list[tuple[str, list[str]]]) -> list[tuple[tuple[str, ...], str]]:
    """A module's definition list, as HTML's <dl> reads ("- countries( [CONTINENTS] )" over
    "- Return a list of countries ..."): each item whose term is a signature, its description
    the item under it."""
    out = []
    for head, body in _item_pairs(blocks):
        sig = _LIST_ITEM.match(head) and _as_signature(_LIST_ITEM.sub("", head), True)
        if sig and _LIST_ITEM.match(body) and not _as_signature(_LIST_ITEM.sub("", body), True):
            out.append(((sig,), _LIST_ITEM.sub("", body)))
    return out


def signatures(text: str, min_words: int = 5, max_words: int = 120,
               heading: str | None = None, in_module: bool = False) -> list[tuple[tuple[str, ...], str]]:
    """(signatures, description) for each API entry of a chunk (those under headings first,
    then signature paragraphs, then texinfo definitions): the signatures as written, and the
    paragraph after them cut to whole sentences (a last sentence that introduces an example
    left out). A signature is a paragraph of its own, a
    heading in the chunk, or `heading`: the section the chunk starts (its text then opens
    with the description). Entries whose description is shorter than `min_words`, only
    points elsewhere or is not prose are left out. `in_module`: the chunk is of a module's
    manual page, whose functions are named by their own names (headings and definition lists
    of "last_error()", "$z->flush($flush_type)", usage lines "`my $pkg = blessed( $ref );`")."""
    found: list[tuple[tuple[str, ...], str]] = []
    blocks = _blocks(text)
    own = heading_signature(heading, in_module) if heading else None
    if own and (desc := _described(blocks)):
        found.append(((own,), desc))
    for i, (kind, lines) in enumerate(blocks):
        sig = heading_signature(lines[0], in_module) if kind == "heading" else None
        if sig and (desc := _described(blocks[i + 1:])):
            found.append(((sig,), desc))
    for (kind, lines), (_, next_lines) in zip(blocks, blocks[1:]):
        # a usage line over its description, in one paragraph or two
        usage = _USAGE.match(" ".join(lines[0].split())) if kind == "prose" else None
        sig = usage and _as_signature(usage.group(1), in_module)
        rest = [x for x in lines[1:] if x.strip()] or (
            next_lines if _kind([x.strip() for x in next_lines]) == "prose" else [])
        if sig and rest:
            found.append(((sig,), _prose(rest)))
            continue
        sigs = tuple(" ".join(x.split()) for x in lines if x.strip())
        # the description may be indented under its signature (read as code otherwise)
        if kind != "list" and all(_SIGNATURE.match(x) for x in sigs) \
                and _kind([x.strip() for x in next_lines]) == "prose":
            found.append((sigs, _prose(next_lines)))
    out: list[tuple[tuple[str, ...], str]] = []
    for sigs, desc in found + _definitions(blocks) + (_items(blocks) if in_module else []):
        # a usage line the description opens with ("`my $make_frag = $mm->constants;` Prints
        # ..."), and an example glued to its end, are not what it says
        desc = _USAGE_LINE.sub("", _ENTRY_NOTE.sub("", desc)).split("```")[0]
        desc = cut_to_sentences(desc, max_words)
        ends = list(_SENTENCE_END.finditer(desc))
        desc = desc[: ends[-1].end()] if ends else ""
        if words(desc) < min_words or not re.match(r"[A-Z0-9\"'`*]", desc) or _REFERS.match(desc) \
                or _POINTER.search(desc) or desc.endswith("?"):  # "Does this module need linking?"
            continue
        # "`path` is the resolved path ...": what one of its parameters is, not what it does
        first = re.match(r"`([^`]+)`\s+(?:is|are|must|should|can|may)\b", desc)
        if first and any(first.group(1) in re.findall(r"\w+", s.partition("(")[2]) for s in sigs):
            continue
        out.append((sigs, desc))
    return out
