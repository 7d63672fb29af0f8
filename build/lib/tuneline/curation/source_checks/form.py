"""Faults of form, read off the generated text itself: the product's own prompt scaffolding,
commentary about the task instead of content, truncated and looping text."""

from __future__ import annotations

import re
from functools import lru_cache

from tuneline.curation import generate, judge
from tuneline.curation.source_checks.common import _QUOTED, Source, Verdict, _prose
from tuneline.params import GroundingParams
from tuneline.records import Pair

# the labels the generation and judge prompts put before their parts, at a line start
_LABEL = re.compile(r"(?im)^\W{0,3}(source|text|topic|passage|statement|question|answer|score|instruction)\s*:")


@lru_cache(maxsize=1)
def _prompt_sentences() -> list[str]:
    """Sentences of the product's own prompts: a reply that repeats one leaked its prompt."""
    texts = [generate._ASK, generate._ASK_PASSAGE, generate._ANSWER_INSTRUCTION, judge.RUBRIC,
             judge.GROUNDED_RUBRIC]
    out = []
    for t in texts:
        out += [s.strip().lower() for s in re.split(r"(?<=[.:])\s+|\n", t) if len(s.split()) >= 4]
    return out


@lru_cache(maxsize=1)
def _example_texts() -> list[str]:
    """The few-shot examples' questions and passages: a reply that repeats one copied it."""
    out = [generate._EXAMPLE_QUESTION, generate._EXAMPLE_TEXT]
    for text, question in generate._PASSAGE_EXAMPLES:
        out += [question, text]
    return [x.lower() for x in out]



def prompt_scaffolding(pair: Pair, src: Source, p: GroundingParams) -> Verdict:
    """A prompt label ("Source:", "Text:", "Question:"), a sentence of the product's prompts
    or its few-shot example in the question or the answer, and not in the chunk."""
    for field, text in (("question", pair.instruction), ("answer", pair.answer)):
        low = text.lower()
        m = _LABEL.search(text)
        if m and f"{m.group(1).lower()}:" not in src.lower:
            return "prompt_scaffolding", f"{field} has the prompt label {m.group(0).strip()!r}"
        for s in _prompt_sentences():
            if s in low and s not in src.lower:
                return "prompt_scaffolding", f"{field} repeats the prompt: {s[:60]!r}"
        for s in _example_texts():
            if s.rstrip("?.") in low and s.rstrip("?.") not in src.lower:
                return "prompt_scaffolding", f"{field} repeats the prompt's example: {s[:60]!r}"
    return None


_META_NOUN = r"(?:text|passage|paragraph|excerpt|document|article|chunk|source|question|answer|section)"


_COMMENTARY = [
    re.compile(rf"^\W*(?:the|this|that) (?:given |provided |above )?{_META_NOUN}\b", re.I),
    re.compile(rf"\b(?:the|this) {_META_NOUN} (?:is|was|seems|appears|should|does|doesn't|contains|"
               r"says|states|mentions|describes|asks|refers|talks|discusses|explains|provides)\b", re.I),
    re.compile(r"^\W*(?:sure|certainly|of course|okay|great question|good question)\b", re.I),
    re.compile(r"^\W*here(?:'s| is| are) (?:the|a|an|my|some|one)\b", re.I),
    re.compile(r"\b(?:is|are) (?:incorrect|wrong|not correct)\b[^.]{0,30}\bshould be\b", re.I),
    re.compile(r"\bshould be\s*:", re.I),
    # the model speaking for itself (case-sensitive: "i" in a code-ish answer is an index)
    re.compile(r"\bI(?:'m|'d|'ll| (?:think|believe|would|will|can|cannot|can't|don't|hope|am|have|need))\b"),
    re.compile(r"\b(?:as an ai|language model|i am not sure)\b", re.I),
]



def task_commentary(pair: Pair, src: Source, p: GroundingParams) -> Verdict:
    """An answer that talks about the text, the question or itself instead of the subject;
    a phrase the chunk itself uses is not commentary (a manual's "the text is inserted")."""
    text = _QUOTED.sub(" ", _prose(pair.answer))
    for pattern in _COMMENTARY:
        m = pattern.search(text)
        if m and m.group(0).strip().lower() not in src.lower:
            return "task_commentary", f"answer says {m.group(0).strip()!r}"
    return None


_ENDS = tuple(".!?)]}\"'`:;*") + ("”", "’")



def truncated(pair: Pair, src: Source, p: GroundingParams) -> Verdict:
    """An answer cut off mid-sentence: no closing punctuation (a list item or a code block may
    end bare), or an unclosed code fence."""
    text = pair.answer.rstrip()
    if text.count("```") % 2:
        return "truncated_text", "unclosed code fence"
    last = text.splitlines()[-1].strip() if text else ""
    if not last or last.endswith(_ENDS) or re.match(r"(?:[-*+•]|\d{1,2}[.)])\s", last):
        return None
    if src.text and re.search(re.escape(" ".join(last.split()[-6:])) + r"\s*(?:\n|$)",
                              src.text):
        return None  # the chunk's own line ends that way (a heading, a summary line)
    return "truncated_text", f"answer ends {text[-40:]!r}"



def _repeat(words: list[str], min_n: int) -> str | None:
    """A run of `min_n`+ words followed at once by itself ("The answer is: The answer is:")."""
    for n in range(min_n, min(12, len(words) // 2) + 1):
        for i in range(len(words) - 2 * n + 1):
            if words[i:i + n] == words[i + n:i + 2 * n]:
                return " ".join(words[i:i + n])
    return None



def repeated_phrase(pair: Pair, src: Source, p: GroundingParams) -> Verdict:
    """Looping output: a phrase repeated back to back, or one sentence said twice; unless the
    chunk repeats it too."""
    for field, text in (("question", pair.instruction), ("answer", pair.answer)):
        words = [w.lower().strip(".,;:!?\"'") for w in _prose(text).split()]
        rep = _repeat(words, p.min_repeated_words)
        if rep and " ".join(src.lower.split()).count(rep) < 2:
            return "looping_text", f"{field} repeats {rep!r}"
        sents = [s.strip().lower() for s in re.split(r"(?<=[.!?])\s+", text) if len(s.split()) >= 4]
        dup = next((s for i, s in enumerate(sents) if s in sents[:i]), None)
        if dup and src.lower.count(dup) < 2:
            return "looping_text", f"{field} says twice {dup[:60]!r}"
    return None
