"""Claim support: what the answer (and the question) states that its chunk does not: key terms
absent from the chunk, a negation or an antonym flipped inside an otherwise copied sentence,
answer sentences with no source sentence."""

from __future__ import annotations

import difflib
import re

from tuneline.curation.source_checks.common import Source, Verdict, _prose
from tuneline.params import GroundingParams
from tuneline.records import Pair
from tuneline.text import atoms, content_stems, key_terms

_LOWER_CLAUSE = re.compile(r"(?<=[a-z] )[A-Z][a-z]+\b")



def claimed_terms(text: str) -> set[str]:
    """The key terms an answer asserts (text.key_terms), except capitalised plain words that
    open a clause ("Put simply, Gives back ..."): a name counts when it follows a lower-case
    word inside a sentence."""
    terms = key_terms(text)
    names = {m.group().lower() for m in _LOWER_CLAUSE.finditer(_prose(text))}
    plain = {m.group().lower() for m in re.finditer(r"\b[A-Z][a-z]+\b", _prose(text))}
    return {t for t in terms if t not in plain or t in names or not t.isalpha()}


_FLAG = re.compile(r"(?<![\w-])--?[A-Za-z][\w-]+")  # a command-line option: "--timeout", "-i"



def question_term_not_in_source(pair: Pair, src: Source, p: GroundingParams) -> Verdict:
    """A question that names what its chunk never mentions (a program, an identifier, a
    number: "the DPO feature in Git") asks something the answer does not answer."""
    if src.text is None:
        return None
    known = atoms(f"{src.text}\n{src.where}")
    missing = sorted(t for t in claimed_terms(pair.instruction) if t not in known)
    flags = [f for f in _FLAG.findall(pair.instruction) if f.lower() not in src.lower]
    if missing or flags:
        return "question_term_not_in_source", "question names " + ", ".join((flags + missing)[:6])
    return None



def unsupported_terms(pair: Pair, src: Source, p: GroundingParams) -> Verdict:
    """Key terms of the answer (identifiers, code spans, numbers, versions, names) that
    neither the chunk, its title and section, nor the question mention."""
    if src.text is None:
        return None
    known = atoms(f"{src.text}\n{src.where}\n{pair.instruction}")
    missing = sorted(t for t in claimed_terms(pair.answer) if t not in known)
    if len(missing) >= p.min_unsupported_terms:
        return "term_not_in_source", "answer names " + ", ".join(missing[:6])
    return None


# "none" is also Python's None: left out
_NEGATION = frozenset("not no never nor neither cannot without nothing nobody n't".split())


# polar opposites: one swapped for the other inside a copied sentence inverts the fact
ANTONYMS = [
    ("maximum", "minimum"), ("max", "min"), ("largest", "smallest"), ("larger", "smaller"),
    ("greater", "less"), ("greater", "smaller"), ("more", "less"), ("more", "fewer"),
    ("most", "least"), ("higher", "lower"), ("highest", "lowest"), ("high", "low"),
    ("increase", "decrease"), ("increases", "decreases"), ("increasing", "decreasing"),
    ("first", "last"), ("before", "after"), ("earlier", "later"), ("begin", "end"),
    ("start", "end"), ("beginning", "end"), ("true", "false"), ("enable", "disable"),
    ("enabled", "disabled"), ("enables", "disables"), ("always", "never"), ("all", "none"),
    ("upper", "lower"), ("uppercase", "lowercase"), ("leading", "trailing"), ("left", "right"),
    ("ascending", "descending"), ("rows", "columns"), ("row", "column"), ("input", "output"),
    ("inputs", "outputs"), ("read", "write"), ("reads", "writes"), ("open", "close"),
    ("opens", "closes"), ("add", "remove"), ("adds", "removes"), ("include", "exclude"),
    ("includes", "excludes"), ("inclusive", "exclusive"), ("faster", "slower"), ("fast", "slow"),
    ("reduces", "increases"), ("reduce", "increase"), ("saves", "costs"), ("less", "more"),
    ("positive", "negative"), ("success", "failure"), ("succeeds", "fails"), ("valid", "invalid"),
    ("mutable", "immutable"), ("synchronous", "asynchronous"), ("local", "global"),
    ("public", "private"), ("static", "dynamic"), ("explicit", "implicit"), ("signed", "unsigned"),
    ("required", "optional"), ("allowed", "forbidden"), ("allow", "forbid"), ("inside", "outside"),
    ("above", "below"), ("ignored", "used"), ("copy", "view"), ("shallow", "deep"),
    ("width", "height"), ("horizontal", "vertical"), ("next", "previous"), ("older", "newer"),
    ("oldest", "newest"), ("lazy", "eager"), ("strict", "lenient"), ("on", "off"),
]


_TOKEN = re.compile(r"n't|\w+")



def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower().replace("cannot", "can not"))



def _sentences(text: str) -> list[str]:
    # hard-wrapped lines (plain-text manuals) are joined; blank lines and list items separate
    joined = re.sub(r"(?<!\n)\n(?!\n|\s*(?:[-*+•]|\d{1,2}[.)])\s)", " ", _prose(text))
    return [s for s in re.split(r"(?<=[.!?;])\s+|\n+", joined) if len(s.split()) >= 3]



def altered_copy(pair: Pair, src: Source, p: GroundingParams) -> Verdict:
    """A sentence copied from the chunk with one fact turned: a negation added or removed, or
    a word swapped for its opposite (maximum/minimum, before/after)."""
    if src.text is None:
        return None
    chunk_sents = [_tokens(s) for s in _sentences(src.text)]
    for sent in _sentences(pair.answer):
        a = _tokens(sent)
        if len(a) < 5:
            continue
        best, cover = None, 0.0
        for c in chunk_sents:
            sm = difflib.SequenceMatcher(None, a, c, autojunk=False)
            # share of the answer sentence's tokens copied from this chunk sentence: the chunk
            # sentence may be longer, the answer copying part of it
            got = sum(b.size for b in sm.get_matching_blocks()) / len(a)
            if got > cover:
                best, cover = sm, got
        if best is None or cover < p.copied_sentence_ratio:
            continue
        ops = best.get_opcodes()
        eq = [k for k, o in enumerate(ops) if o[0] == "equal"]
        inner = ops[eq[0]:eq[-1] + 1] if eq else []  # the chunk's text before and after the copy is not a change
        for op, i1, i2, j1, j2 in inner:
            if op == "equal":
                continue
            new, old = a[i1:i2], best.b[j1:j2]
            if any(t in _NEGATION for t in new) != any(t in _NEGATION for t in old):
                return "negation_flipped", (f"{' '.join(old) or '(nothing)'!r} became "
                                            f"{' '.join(new) or '(nothing)'!r} in {sent[:80]!r}")
            for n in new:
                for o in old:
                    if o in _OPPOSITE.get(n, ()):
                        return "word_swapped_for_opposite", f"{o!r} became {n!r} in {sent[:80]!r}"
    return None



def unsupported_sentence(pair: Pair, src: Source, p: GroundingParams) -> Verdict:
    """An answer sentence whose content words are mostly absent from the chunk: a claim with
    no source sentence (a faithful paraphrase keeps its terms: "returns" -> "gives back"
    keeps the subject and objects)."""
    if src.text is None:
        return None
    chunk = content_stems(f"{src.text}\n{src.where}\n{pair.instruction}")
    for sent in _sentences(pair.answer):
        stems = content_stems(sent)
        if len(stems) < p.unsupported_sentence_min_words:
            continue
        share = len(stems & chunk) / len(stems)
        if share < p.min_sentence_support:
            return "sentence_not_in_source", f"{share:.2f} of {sent[:80]!r} is in the chunk"
    return None


_OPPOSITE: dict[str, set[str]] = {}
for _a, _b in ANTONYMS:
    _OPPOSITE.setdefault(_a, set()).add(_b)
    _OPPOSITE.setdefault(_b, set()).add(_a)
