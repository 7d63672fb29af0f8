"""The source checks: one chain that reads each pair against its chunk, with no LLM.

The offline default generator and judge is a 135M model; a check that needs a capable judge
does not protect the default user. So every fault a person finds when reading kept pairs
against their chunks gets a rule here, each a function `(pair, source) -> (reason, detail) |
None` that says why it drops:

- the product's own prompt scaffolding in a question or answer (it knows its templates);
- commentary about the task instead of content ("The text is incorrect and should be: ...");
- truncated or looping text;
- a question that leans on unseen context (an unresolved "it"/"this"/"the text" as subject)
  or names no subject at all ("What is the main idea?"), or a conversation's follow-up that
  asks again what an earlier turn asked;
- claim support: key terms (identifiers, code spans, numbers, names) absent from the chunk,
  a negation or an antonym flipped inside an otherwise copied sentence, answer sentences
  with no source sentence;
then, with embeddings: question-answer relevance (`answer_off_question`) and the corpus
checks of tuneline/curation/grounding.py (an answer written for another chunk, or unsupported by its
own). Precision first: each rule's default is set from its measured precision on faithful
pairs of real text (benchmarks/curation_quality.py); a rule that fires only when the matched
words are absent from the chunk lets a document that really says "Question:" through.

`run_source_checks` is the one entry point: the pipeline's step and the benchmarks call it.
A conversation is checked turn by turn (tuneline/curation/turns.py), each exchange like a
single pair against the same chunk, except that a follow-up question may lean on the turns
before it (`FOLLOW_UP_EXEMPT`; relevance counts the earlier questions' words as context, as
it counts a chunk's section). At the first turn that fails, the turns before it are kept as a
pair of their own and the conversation goes to the ledger as `truncated:<reason>` (an opening
turn that fails drops it).
The rules live by what they read: `form` (the generated text itself), `questions` (the
question against the answer's opening), `claims` (the answer against the chunk).
"""

from __future__ import annotations

import numpy as np

from tuneline.curation import grounding, turns
from tuneline.curation.dedup import Encoder
from tuneline.curation.source_checks.claims import (
    altered_copy,
    question_term_not_in_source,
    unsupported_sentence,
    unsupported_terms,
)
from tuneline.curation.source_checks.common import Check, Source
from tuneline.curation.source_checks.form import (
    prompt_scaffolding,
    repeated_phrase,
    task_commentary,
    truncated,
)
from tuneline.curation.source_checks.questions import (
    asks_about_a_listed_entry,
    compares_with_itself,
    purpose_unstated,
    question_needs_context,
    question_not_in_opening,
    question_without_subject,
    relevance,
    repeats_earlier_question,
    reversed_question,
    ungrammatical_question,
    verb_without_object,
)
from tuneline.params import GroundingParams
from tuneline.records import Dropped, Pair, drop

STAGE = "grounding"


# Cheap and certain first: the first rule that fires names the drop.
CHECKS: tuple[Check, ...] = (
    prompt_scaffolding, task_commentary, truncated, repeated_phrase, question_needs_context,
    question_without_subject, repeats_earlier_question, compares_with_itself, verb_without_object,
    ungrammatical_question, reversed_question, question_not_in_opening,
    question_term_not_in_source,
    unsupported_terms, altered_copy, unsupported_sentence,
)


# what a follow-up question may do that an opening one may not: say "it" for what the
# conversation is about, or name no subject ("And for lists?")
FOLLOW_UP_EXEMPT = frozenset({"question_needs_context", "question_without_subject"})


# what a question the product builds from a document's own entry (an option list's item, an
# API signature: generate.option_entries, generate.signature_entries) is not held to: the
# rules that read a model's question against the statement it was written from. Its answer
# is the entry's description, which never names the option or the function it describes.
BUILT_QUESTION_EXEMPT = frozenset({"verb_without_object", "ungrammatical_question", "reversed_question",
                                   "question_not_in_opening", "question_term_not_in_source"})


def first_fault(pair: Pair, src: Source, params: GroundingParams,
                checks: tuple[Check, ...] = CHECKS) -> "tuple[str, str] | None":
    skip = set(params.skip_checks) | (FOLLOW_UP_EXEMPT if pair.history else set())
    if src.text and asks_about_a_listed_entry(pair.instruction, src.text, src.where):
        skip |= BUILT_QUESTION_EXEMPT
    return next((v for f in checks if f.__name__ not in skip and (v := f(pair, src, params))),
                None)


def run_source_checks(pairs: list[Pair], chunk_text: dict[str, str], encode: Encoder,
                      params: GroundingParams, chunk_where: dict[str, str] | None = None
                      ) -> tuple[list[Pair], list[Dropped], dict]:
    """The whole chain on pairs with their chunks: the rules above, then relevance, then the
    corpus checks (tuneline/curation/grounding.py). Pairs without a chunk (imported data) get the rules
    that need no source. Conserves records: kept + dropped == pairs."""
    chunk_where = chunk_where or {}
    each, owner = turns.views(pairs)
    kept, dropped, stats = _chain(each, chunk_text, encode, params, chunk_where)
    # views are told apart by id (exact duplicates, the only ones sharing an id, are gone by now)
    index = {v.pair_id: n for n, v in reversed(list(enumerate(each)))}
    faults = {index[d.record["pair_id"]]: (d.reason, d.detail) for d in dropped}
    kept, dropped = turns.fold(pairs, owner, faults, STAGE, truncate=True)
    return kept, dropped, stats


def _chain(pairs: list[Pair], chunk_text: dict[str, str], encode: Encoder,
           params: GroundingParams, chunk_where: dict[str, str]
           ) -> tuple[list[Pair], list[Dropped], dict]:
    kept: list[Pair] = []
    dropped: list[Dropped] = []
    for pair in pairs:
        src = Source(chunk_text.get(pair.chunk_id), chunk_where.get(pair.chunk_id, ""))
        fault = first_fault(pair, src, params)
        if fault:
            dropped.append(drop(STAGE, fault[0], pair, fault[1]))
        else:
            kept.append(pair)
    stats: dict = {"rule_drops": len(dropped)}
    if kept and "relevance" not in params.skip_checks:
        q = np.asarray(encode([x.instruction for x in kept]), dtype=np.float32)
        a = np.asarray(encode([x.answer for x in kept]), dtype=np.float32)
        cos = np.einsum("kd,kd->k", q, a)
        stats["median_question_answer_cosine"] = round(float(np.median(cos)), 4)
        still = []
        for pair, c in zip(kept, cos):
            # Imported data (no chunk) is written by people, whose answers say it in other
            # words: on the bundled conversations (data/conversations) the question-word test
            # dropped 21 of 50 fitting turns (while catching 42 of 47 swapped answers). It is a
            # check of what a small model generates from a chunk, and stays one.
            v = None
            if pair.chunk_id and not asks_about_a_listed_entry(pair.instruction,
                                                                 chunk_text.get(pair.chunk_id) or "",
                                                                 chunk_where.get(pair.chunk_id, "")):
                # a follow-up's "those files" names what an earlier question asked about
                context = "\n".join([chunk_where.get(pair.chunk_id, ""),
                                      *(q for q, _ in pair.history)])
                v = relevance(pair.instruction, pair.answer, context.strip(), float(c), params) \
                    or purpose_unstated(pair.instruction, pair.answer)
            if v:
                dropped.append(drop(STAGE, v[0], pair, v[1]))
            else:
                still.append(pair)
        kept = still
    kept, corpus_dropped, corpus_stats = grounding.check_grounding(kept, chunk_text, encode, params)
    return kept, dropped + corpus_dropped, {**stats, **corpus_stats}
