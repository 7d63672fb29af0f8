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


# prepositions a question may end with ("What does X refer to?"), and that a verb before them
# has no object ("may only occur ... in")
PREPOSITIONS = frozenset("""to for with on in of about from by into at as like over under after before
during between through within without across per""".split())


def content_stems(text: str) -> set[str]:
    return {w[:5] for w in (m.lower() for m in _WORD.findall(text)) if w not in _STOP}


def content_overlap(a: str, b: str) -> float:
    """Jaccard similarity of two texts' content-word stems: word order does not matter.
    Texts without content words ("Yes." / "No.") give no evidence of sameness: 0.0."""
    x, y = content_stems(a), content_stems(b)
    return len(x & y) / len(x | y) if x and y else 0.0


_ATOM = re.compile(r"\w+")
_CODE_SPAN = re.compile(r"`([^`]+)`")
_SENTENCE_START = re.compile(r"(?:^\s*|[.!?:]\s+|\n\s*)$")
# a token is a key term when it looks like an identifier or a name, not like a plain word
# (a command-line option is one too: "--maximum-size" and "--minimum-size" are two options of one
# program whose descriptions read alike)
_IDENTIFIER = re.compile(r"\w[\w.:/()\[\]-]*[_.:/()\[\]]\w*|\w*\d\w*|\w*[a-z][A-Z]\w*|[A-Z]{2,}\w*"
                         r"|--?[A-Za-z][\w-]*(?:=\S*)?")
_IDENTIFIER_NO_CASE = re.compile(r"\w[\w.:/()\[\]-]*[_.:/()\[\]]\w*|\w*\d\w*|--?[A-Za-z][\w-]*(?:=\S*)?")
_CAPITALIZED = re.compile(r"[A-Z][a-z]+")
_NOT_PLAIN = re.compile(r"(?<!\S)\S*[^\sa-z]\S*")  # a whole token with a character besides a-z


def atoms(text: str) -> set[str]:
    """The lower-cased word atoms of a text (`numpy.argmax` gives numpy, argmax)."""
    return set(_ATOM.findall(text.lower()))


def key_terms(text: str) -> set[str]:
    """Lower-cased atoms of the entities a text names: code spans, identifiers (dots,
    underscores, digits, inner capitals, acronyms), numbers, and capitalised words that do
    not start a sentence (product and platform names)."""
    terms = {a.lower() for span in _CODE_SPAN.findall(text) for a in _ATOM.findall(span)}
    rest = _CODE_SPAN.sub(" ", text)
    # in a text set in capitals, case says nothing about names
    shouting = sum(map(str.isupper, rest)) > 0.5 * sum(map(str.isalpha, rest))
    identifier = _IDENTIFIER_NO_CASE if shouting else _IDENTIFIER
    # only tokens with something besides a-z can be key terms: plain words (most tokens)
    # never reach the patterns below
    for m in _NOT_PLAIN.finditer(rest):
        token = m.group().strip(".,;:!?\"'()[]{}")
        if token.isalpha() and token.islower():
            continue  # a plain word with punctuation around it
        if identifier.fullmatch(token) or (not shouting and _CAPITALIZED.fullmatch(token)
                                           and not _SENTENCE_START.search(rest[:m.start()])):
            terms.update(a.lower() for a in _ATOM.findall(token))
    return terms


def number_or_none(x) -> float | None:
    """A stored score as a float; None for missing, NaN or not a number (a table's empty cell)."""
    try:
        x = float(x)
    except (TypeError, ValueError):
        return None
    return None if x != x else x  # NaN


def fmt_number(v) -> str:
    """A metric as the CLI, the cards and the summary print it."""
    if isinstance(v, float):
        return f"{v:.4f}"
    return "-" if v is None else str(v)


# a manual's title is its NAME line: "gzip, gunzip, zcat - compress or expand files",
# "sftp(1) - OpenBSD manual pages"
_NAME_LINE = re.compile(r"^\W*([A-Za-z_][\w.+-]*)(?:\(\w+\))?(?:,\s*[\w.+-]+(?:\(\w+\))?)*\s+[-–—]\s+\S")


def program(title: str) -> str | None:
    """The program a manual page documents, from its title; None for any other title."""
    m = _NAME_LINE.match(title)
    return m.group(1) if m else None


# a library's manual page is titled by its module ("Params::Check", "CPAN::Mirrors - ...",
# "Digest::SHA - Perl extension for SHA-1/224/256/384/512"), or by a name of one word ("Test",
# "PerlIO", "charnames")
_MODULE_TITLE = re.compile(r"^\s*([A-Za-z_]\w*(?:::\w+)+)(?=$|\s|\()|^\s*([A-Za-z_]\w*)\s*$")
# one-word titles of documents that are no module's page
_DOCUMENT_NAMES = {"readme", "news", "install", "todo", "license", "copying", "changes", "changelog",
                   "authors", "faq", "history", "contributing", "introduction", "overview", "index",
                   "contents", "articles", "glossary", "tutorial"}


def module(title: str) -> str | None:
    """The module a library's manual page documents, from its title: a name qualified with
    `::` (as Perl's, Ruby's and C++'s are written), or a title that is one name ("Test"), not
    a document's ("README"); None for any other title. Only a page that also names its
    functions by signatures is read as a module's (passages.signatures)."""
    m = _MODULE_TITLE.match(title)
    name = m and (m.group(1) or m.group(2))
    return name if name and name.lower() not in _DOCUMENT_NAMES else None
