"""Instruction/answer pairs from chunks, in one of two modes (`GenerateParams.mode`).

- `answer_first` (default): the answer is a passage of the chunk (tuneline/curation/passages.py) and
  the model writes only the question that passage answers (instruction back-translation,
  Li et al. 2023). Every claim of the answer is in the source by construction; what is left
  to check is whether the question fits and stands alone (tuneline/curation/source_checks/). Read by
  hand, a 135M model's own answers were rarely faithful (0 of 42 kept on the quickstart); its
  questions are what it still gets wrong, and what the checks read.
  An item of a manual's option list needs no model at all: its question is built from the
  option and the program the page documents, its answer is the item's description
  (`option_entries`), and it takes a chunk's places before the chunk's passages. So does an
  API reference's entry, a signature over its description ("What does str.casefold() do?",
  `signature_entries`).
- `two_pass`: pass 1 asks for a question the chunk answers; pass 2 answers it with the chunk
  in view. For capable models, whose own wording teaches more than a copied passage.
Short single-purpose prompts work even for a 135M model, where one "write JSON with both"
prompt mostly fails to parse.

Conversations (`turns` > 1, answer_first): a conversation's turns are passages of one chunk in
document order, each with the question the model writes for it, so every answer is the
source's own words and every turn gets the same checks as a single pair (turn by turn:
tuneline/curation/turns.py). Each question is written to stand alone, which a follow-up may
(it may also lean on earlier turns; nothing else). A reply with no question ends the
conversation at the turns before it (`truncated:no_question_in_reply`); none for the opening
turn drops it. The pair's instruction carries no context: SFT teaches the
model to answer from what it learned.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tuneline.curation import passages as passages_core
from tuneline.llm import LLM, Chat
from tuneline.params import GenerateParams
from tuneline.records import TRUNCATED, Chunk, Dropped, Pair, drop, stable_id
from tuneline.text import PREPOSITIONS, module, program

STAGE = "generate"


# One worked example: small models mostly comment on the text instead of asking about it
# without one (measured on SmolLM2-135M: 2 of 8 chunks gave a question zero-shot, 6 of 8
# with this example at temperature 0.3).
_EXAMPLE_TEXT = ("Python lists are ordered and mutable. They can hold items of different types, "
                 "and new items are added to the end with the append method.")
_EXAMPLE_WHERE = "Python tutorial > Data structures > Lists"
_EXAMPLE_QUESTION = "How do you add a new item to the end of a Python list?"
_ASK = "Write one question that the text answers.\n\n"


def where(chunk: Chunk) -> str:
    """Where a chunk comes from, as the prompts show it: document title > heading path."""
    return " > ".join(p for p in (chunk.title, chunk.section) if p)


def _text(chunk: str, source: str) -> str:
    return (f"Source: {source}\n" if source else "") + f"Text:\n{chunk}"


def question_chat(chunk: str, source: str = "") -> Chat:
    """`source` (`where`) tells the model what the text is about when the chunk alone does
    not: a section of a manual often never names the program it describes."""
    return [{"role": "user", "content": _ASK + _text(_EXAMPLE_TEXT, _EXAMPLE_WHERE)},
            {"role": "assistant", "content": _EXAMPLE_QUESTION},
            {"role": "user", "content": _ASK + _text(chunk, source)}]


# Answer-first: the model rewrites the passage's opening sentence as the question it answers.
# Read by hand on two real runs (benchmarks/labelled/), SmolLM2-135M asked for "the question
# this passage answers" wrote fluent questions about the document's topic that the passage
# did not answer (33% usable); asked to turn one statement into its question, with the
# statement's own words, it writes questions the passage answers more often (39% before the
# checks), and the checks can test the question against that sentence (kept pairs usable
# with the final checks: 83% on the quickstart, 69-77% on real reference pages). One
# example per question form: with a "Which ...?" example a quarter of those questions were
# usable; with a "What is X?" example nearly every question became "What is X?".
_PASSAGE_EXAMPLES = [  # (statement, its question)
    ("The append method adds an item to the end of a list.", "What does the append method of a list do?"),
    ("Use git stash when you want to record the current state of the working directory and go "
     "back to a clean working directory.", "When should you use git stash?"),
    ("VACUUM reclaims storage occupied by dead tuples.", "What does VACUUM reclaim?"),
    ("Set the request timeout in milliseconds with the --timeout flag.", "How do you set the request timeout?"),
]
_ASK_PASSAGE = "Rewrite the statement as the question it answers. Use the statement's own words.\n\n"
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"'`(*])")


def opening(passage: str, min_words: int = 6) -> str:
    """The passage's first sentence (two when the first is shorter than `min_words`): what
    the question is written from, and what the checks hold it against."""
    parts = _SENTENCE_END.split(passage.split("\n```")[0].strip(), maxsplit=2)
    head = parts[0]
    if len(head.split()) < min_words and len(parts) > 1:
        head = f"{head} {parts[1]}"
    return " ".join(head.split())


def passage_question_chat(passage: str, source: str = "") -> Chat:
    """`source` is not shown: with a topic line the model asks about the topic, not the
    statement (measured: "What does 13 hyperparameters mean?")."""
    chat: Chat = []
    for text, question in _PASSAGE_EXAMPLES:
        chat += [{"role": "user", "content": f"{_ASK_PASSAGE}Statement: {text}"},
                 {"role": "assistant", "content": question}]
    return chat + [{"role": "user", "content": f"{_ASK_PASSAGE}Statement: {opening(passage)}"}]


_ANSWER_INSTRUCTION = "Answer the question using the text. Be accurate and concise."


def answer_chat(chunk: str, question: str, source: str = "") -> Chat:
    return [{"role": "user", "content": (
        f"{_ANSWER_INSTRUCTION}\n\n"
        f"{_text(chunk, source)}\n\nQuestion: {question}"
    )}]


# Lead-ins small models put before the question ("A student might ask: ...").
_LEAD_IN = re.compile(
    r"^(?:(?:here is |here's )?(?:one |a )?(?:possible |good )?question"
    r"(?: (?:that|a student|you) [^:?]{0,60})?\s*(?:is)?\s*:|"
    r"(?:a |one )?(?:student|reader|person)[^:?]{0,40}:|q\s*[:.]|\d+[.)])\s*",
    re.IGNORECASE,
)


def parse_question(text: str) -> str | None:
    """The first question in a reply, without lead-ins and quotes; None if there is none."""
    for line in text.splitlines():
        line = line.strip().strip("*").strip()
        line = _LEAD_IN.sub("", line).strip().strip('"“”\'').strip()
        if "?" in line:
            question = line[: line.index("?") + 1].strip().strip('"“”\'')
            if len(question.split()) >= 3:
                return question
    return None


_WHAT_DOES_DO = re.compile(r"^\s*what\s+does\s+(.+?)\s+do\?\s*$", re.I)
_MODAL = "can|may|could|might|will|would|must|should"
_NO_OBJECT = "|".join(sorted(PREPOSITIONS | {"near", "when", "if", "only", "also", "too", "again"})) + r"|\w+ly"


def sharpen_question(question: str, passage: str) -> str:
    """"What does X do?" of a passage that opens "X can utilize the Customs library ..." asks
    what X is for, and the passage tells one thing it can do ("What does GNU make do?"
    answered by one capability): asked with the statement's own verb, "What can GNU make
    utilize?", the question is what the passage answers. Only where a modal
    makes X the subject and the next word its verb; any other question is returned as it is."""
    m = _WHAT_DOES_DO.match(question)
    if not m:
        return question
    x = re.escape(m.group(1).strip("`'\""))
    # (the verb with an object: "may only occur syntactically nested in ..." asks for none)
    said = re.match(rf"^\s*((?:the\s+|a\s+|an\s+)?[`'\"]?{x}[`'\"]?)\s+(?:\w+ly\s+)?({_MODAL})\s+"
                    rf"(?:also\s+|\w+ly\s+)?(?!be\b|not\b|have\b|either\b|this\b|\w+ly\b)([a-z]{{3,}})"
                    rf"\s+(?!(?:{_NO_OBJECT})\b)[\w`'\"(]", opening(passage), re.I)
    if not said:
        return question
    subject = said.group(1)
    subject = subject[0].lower() + subject[1:] if re.match(r"^(?:The|A|An)\s", subject) else subject
    return f"What {said.group(2).lower()} {subject} {said.group(3)}?"


def trim_answer(text: str) -> str:
    """Cut a reply that hit the token limit back to its last complete sentence."""
    text = text.strip()
    if not text or text[-1] in ".!?)`\"'":
        return text
    ends = [m.end() for m in re.finditer(r"[.!?](?=\s|$)", text)]
    return text[: ends[-1]] if ends else text


@dataclass(frozen=True)
class Entry:
    """A pair the document's structure gives whole: an option list's item, whose question is
    built from the option and the program the page documents (no model call)."""

    question: str
    answer: str


def option_entries(chunk: Chunk, params: GenerateParams) -> list[Entry]:
    """One pair per option a manual's chunk describes: "What does the --output option of
    lslogins do?" answered by the option's own description (passages.options). A chunk of
    a page whose title names no program gives none: the question would not stand alone."""
    name = program(chunk.title)
    if name is None:
        return []
    return [Entry(f"What does the {option} option of {name} do?", desc) for option, desc in
            passages_core.options(chunk.text, params.option_min_words, params.passage_max_words)]


def signature_entries(chunk: Chunk, params: GenerateParams, starts_section: bool = False) -> list[Entry]:
    """One pair per API entry of a chunk: "What does object.__len__(self) do?" answered by the
    paragraph under the signature (passages.signatures); an entry of two to four signatures
    asks of them together, one of more (the fourteen binary operators) gives none: the
    question would be longer than its answer. A chunk that `starts_section` whose section is
    a signature ("`console.clear()`#") opens with that entry's description."""
    out = []
    heading = chunk.section.split(" > ")[-1] if starts_section and chunk.section else None
    lib = module(chunk.title)
    for sigs, desc in passages_core.signatures(chunk.text, params.option_min_words,
                                                params.passage_max_words, heading, lib is not None):
        if len(sigs) == 1:
            # a name of the module's own ("last_error()") is asked of in the module
            name = sigs[0].split("(")[0]
            where = f" in {lib}" if lib and "." not in name and "::" not in name else ""
            out.append(Entry(f"What does {sigs[0]} do{where}?", desc))
        elif len(sigs) <= 4:
            out.append(Entry(f"What do {', '.join(sigs[:-1])} and {sigs[-1]} do?", desc))
    return out


@dataclass(frozen=True)
class Skip:
    """A chunk the model is not asked of, and why (the ledger's drop reason and detail)."""

    reason: str
    detail: str


Attempt = tuple[Chunk, "str | tuple[str, ...] | Entry | Skip | None"]


def attempts(chunks: list[Chunk], params: GenerateParams) -> list[Attempt]:
    """The generation attempts (the ledger's unit): two_pass, `questions_per_chunk` per chunk
    (passage None); answer_first, one per chosen option item (an `Entry`) or passage, up to
    `questions_per_chunk` (with `turns` > 1, one per conversation: a tuple of up to `turns`
    passages in document order; option items make no conversations), and one (None) for a
    chunk that has neither. A page that documents an API (`api_pages_entries_only`) gives its
    entries only, a chunk of it with none a `Skip`."""
    if params.mode == "two_pass":
        if params.turns > 1:
            raise ValueError("generation.turns > 1 needs mode answer_first (two_pass writes "
                             "single-turn pairs)")
        return [(c, None) for c in chunks for _ in range(params.questions_per_chunk)]
    out: list[Attempt] = []
    n = params.turns
    # the first chunk of its section (chunks come in document order) opens with its text
    api = [signature_entries(c, params, i == 0 or chunks[i - 1].doc_id != c.doc_id
                             or chunks[i - 1].section != c.section) for i, c in enumerate(chunks)]
    api_docs = {c.doc_id for c, found in zip(chunks, api) if found} if params.api_pages_entries_only else set()
    for i, c in enumerate(chunks):
        found = passages_core.passages(c.text, params.passage_min_words, params.passage_max_words, c.title)
        if n > 1:  # consecutive passages (in document order) make one conversation
            found = passages_core.pick(found, params.questions_per_chunk * n)
            out += [(c, tuple(found[i:i + n])) for i in range(0, len(found), n)] or [(c, None)]
            continue
        # an option's item or an API entry takes a chunk's places before its passages: the
        # question is the document's, not the model's (read on two runs over 40 manual pages:
        # all 86 option pairs kept were usable, 26 of 57 kept pairs whose question the model wrote)
        entries = {e.answer: e for e in option_entries(c, params) + api[i]}
        if c.doc_id in api_docs:  # an API reference page: its entries are its questions
            chosen = passages_core.pick(list(entries), params.questions_per_chunk)
            out += [(c, entries[p]) for p in chosen] or [(c, Skip(
                "api_page_prose", "a page that documents an API gives its entries only "
                "(generation.api_pages_entries_only)"))]
            continue
        found = [p for p in found if p not in entries]  # a description is asked of once
        chosen = passages_core.pick(list(entries), params.questions_per_chunk)
        chosen += passages_core.pick(found, params.questions_per_chunk - len(chosen))
        out += [(c, entries.get(p, p)) for p in chosen] or [(c, None)]
    return out


def generate_pairs(
    chunks: list[Chunk], llm: LLM, params: GenerateParams
) -> tuple[list[Pair], list[Dropped]]:
    """One pair or one drop per attempt (`attempts`); an attempt whose question or answer is
    unusable is dropped with the reply."""
    if params.mode == "answer_first":
        return _answer_first(attempts(chunks, params), llm, params)
    if params.mode == "two_pass":
        return _two_pass(attempts(chunks, params), llm, params)
    raise ValueError(f"unknown generation.mode {params.mode!r}; expected answer_first or two_pass")


def _answer_first(todo: list[Attempt], llm: LLM, params: GenerateParams
                  ) -> tuple[list[Pair], list[Dropped]]:
    dropped = [drop(STAGE, "no_answer_passage", c, f"no paragraph of {params.passage_min_words}-"
                    f"{params.passage_max_words} words that reads on its own") for c, p in todo if p is None]
    dropped += [drop(STAGE, p.reason, c, p.detail) for c, p in todo if isinstance(p, Skip)]
    pairs = [Pair(stable_id(c.chunk_id, p.question, p.answer), c.chunk_id, c.source, p.question,
                  p.answer) for c, p in todo if isinstance(p, Entry)]
    asked = [(c, (p,) if isinstance(p, str) else p) for c, p in todo
             if p is not None and not isinstance(p, (Entry, Skip))]
    flat = [(c, passage) for c, group in asked for passage in group]
    # (nothing to ask, nothing to load: a folder of API pages gives entries only)
    replies = iter(llm.generate([passage_question_chat(p, where(c)) for c, p in flat],
                                max_new_tokens=params.question_max_tokens,
                                temperature=params.temperature, top_p=params.top_p, desc="questions",
                                no_repeat=params.question_no_repeat) if flat else [])
    for chunk, group in asked:
        said = [next(replies) for _ in group]
        exchanges: list[tuple[str, str]] = []
        for reply, passage in zip(said, group):  # up to the first reply without a question
            question = parse_question(reply)
            if question is None:
                break
            exchanges.append((sharpen_question(question, passage), passage))
        if not exchanges:
            dropped.append(drop(STAGE, "no_question_in_reply", chunk, said[0][:500]))
            continue
        if len(group) == 1:  # a single-turn pair's id is what it always was
            pid = stable_id(chunk.chunk_id, *exchanges[0])
        else:
            pid = stable_id(chunk.chunk_id, *(text for e in exchanges for text in e))
        pairs.append(Pair(pid, chunk.chunk_id, chunk.source, *exchanges[-1],
                          history=tuple(exchanges[:-1])))
        if len(exchanges) < len(group):
            n = len(exchanges)
            dropped.append(drop(STAGE, f"{TRUNCATED}no_question_in_reply", chunk,
                                f"turn {n + 1} of {len(group)}; its first {n} turns kept as "
                                f"{pid}: {said[n][:500]}"))
    return pairs, dropped


def _two_pass(todo: list[tuple[Chunk, str | None]], llm: LLM, params: GenerateParams
              ) -> tuple[list[Pair], list[Dropped]]:
    attempts_ = [c for c, _ in todo]
    replies = llm.generate([question_chat(c.text, where(c)) for c in attempts_],
                           max_new_tokens=params.question_max_tokens,
                           temperature=params.temperature, top_p=params.top_p,
                           desc="questions", no_repeat=params.question_no_repeat)
    dropped: list[Dropped] = []
    asked: list[tuple[Chunk, str]] = []
    for chunk, reply in zip(attempts_, replies):
        question = parse_question(reply)
        if question is None:
            dropped.append(drop(STAGE, "no_question_in_reply", chunk, reply[:500]))
        else:
            asked.append((chunk, question))
    answers = llm.generate([answer_chat(c.text, q, where(c)) for c, q in asked],
                           max_new_tokens=params.answer_max_tokens,
                           temperature=params.temperature, top_p=params.top_p, desc="answers")
    pairs: list[Pair] = []
    for (chunk, question), reply in zip(asked, answers):
        answer = trim_answer(reply)
        if not answer:
            dropped.append(drop(STAGE, "empty_answer", chunk, f"question: {question}"))
            continue
        pairs.append(Pair(stable_id(chunk.chunk_id, question, answer), chunk.chunk_id,
                          chunk.source, question, answer))
    return pairs, dropped
