import pytest

from tuneline.curation.filters import (
    FILTERS,
    apply_filters,
    dup_ngram_char_ratio,
    gopher_repetition,
    top_ngram_char_ratio,
)
from tuneline.params import FilterParams
from tuneline.records import Pair

GOOD_Q = "What does the LoRA rank control?"
GOOD_A = "The rank sets the capacity of the low-rank update: a higher rank trains more parameters."


def pair(instruction=GOOD_Q, answer=GOOD_A):
    return Pair("p", "c", "s", instruction, answer)


@pytest.mark.parametrize("record, reason", [
    (pair(instruction="Why?"), "instruction_too_short"),
    (pair(instruction="word " * 61 + "?"), "instruction_too_long"),
    (pair(answer="It does."), "answer_too_short"),
    (pair(answer="word " * 401), "answer_too_long"),
    (pair(instruction="What is the rank of " + "x" * 600 + "?"), "instruction_too_long"),
    (pair(answer=("longword" * 10 + " ") * 60), "answer_too_long"),
    (pair(answer="As an AI language model, I cannot give opinions on training ranks here."),
     "refusal_or_boilerplate"),
    (pair(answer="I’m sorry, but I cannot share details about the rank of this adapter."),
     "refusal_or_boilerplate"),
    (pair(answer="The rank is a bullshit knob that nobody should ever tune by hand, really."), "profanity"),
    (pair(answer="The rank controls capacity. Click here to buy the full course today!"), "spam_pattern"),
    (pair(answer="Use this code:\n```python\ndef f(:\n    return 1\n```\nIt sets the rank."),
     "python_block_does_not_parse"),
    (pair(answer='{"rank": 16, "alpha": 16, "dropout": 0.0, "targets": "all-linear",}'),
     "json_does_not_parse"),
    (pair(answer="```json\n{rank: 16}\n```\nThat is the adapter configuration for training."),
     "json_does_not_parse"),
    (pair(answer="1234 5678 9012 3456 7890 1234 5678 9012 +-*/ =="), "mostly_non_alphabetic"),
    (pair(answer="What does the LoRA rank control? What does the LoRA rank control?"), "answer_copies_instruction"),
    (pair(answer="The rank is capacity.\nThe rank is capacity.\nThe rank is capacity.\nIt matters."),
     "repeated_lines"),
    (pair(answer='{"rank": 16, "alpha": 16, "note": "the answer was cut off here'), "json_does_not_parse"),
    (pair(answer="<div><p>The rank sets the capacity of the update.</p>&nbsp;<br/></div>"),
     "markup_residue"),
    (pair(answer="The rank isnâ€™t a learning rate: it sets the capacity, itâ€™s that simple."),
     "mojibake"),
    (pair(answer="The rank sets the capacity of the update.<|im_end|>\n<|im_start|>user"),
     "chat_template_leak"),
    (pair(answer="According to the text, the rank sets the capacity of the low-rank update."),
     "refers_to_unseen_source"),
    (pair(answer="The rank sets the capacity of the update, for example [insert example here]."),
     "placeholder_text"),
    (pair(answer="See https://example.org/docs/lora/rank.html and https://example.org/faq#rank"),
     "mostly_links"),
    (pair(answer="The rank sets the capacity of the update. " * 4), "looping_repetition"),
])
def test_each_rule_names_its_reason(record, reason):
    kept, dropped = apply_filters([record], FilterParams())
    assert not kept and [d.reason for d in dropped] == [reason]


def test_a_good_pair_passes_every_rule():
    assert all(f(pair(), FilterParams()) is None for f in FILTERS)


def test_well_formed_code_and_json_pass():
    answers = [
        "Use this:\n```python\nconfig = LoraConfig(r=16, lora_alpha=16)\n```\nThat sets the rank.",
        '{"rank": 16, "alpha": 16, "dropout": 0.0, "targets": "all-linear", "note": "ok"}',
        "The Scunthorpe problem: a class name like Assessment is not profanity, nor is passing.",
    ]
    for answer in answers:
        kept, dropped = apply_filters([pair(answer=answer)], FilterParams())
        assert kept, dropped[0].reason


def test_gopher_ratios_by_hand():
    # words: the(3) file(4) the(3) file(4) descriptor(10): 24 characters, whitespace not counted
    words = "the file the file descriptor".split()
    assert top_ngram_char_ratio(words, 2) == pytest.approx(2 * 7 / 24)  # "the file" twice
    assert dup_ngram_char_ratio(words, 2) == pytest.approx(14 / 24)  # words 0-3 covered once
    assert dup_ngram_char_ratio(words, 3) == 0.0  # no trigram repeats
    assert top_ngram_char_ratio("a b c d".split(), 2) == 0.0  # every bigram once: no repetition
    # overlapping occurrences count each word once: "x y x y x" has "x y" at 0 and 2, "y x" at 1, 3
    assert dup_ngram_char_ratio("x y x y x".split(), 2) == 1.0
    assert top_ngram_char_ratio("x y x y x".split(), 2) == pytest.approx(2 * 2 / 5)


def test_real_technical_answers_that_repeat_their_subject_are_kept():
    # a pandas docstring: "the dot product between the Series and" twice, legitimately
    import inspect

    import pandas as pd

    answer = " ".join(" ".join(inspect.getdoc(pd.Series.dot).split("\n\n")[:2]).split())
    assert dup_ngram_char_ratio(answer.split(), 6) > 0.5  # Gopher's measure fires hard on it
    kept, dropped = apply_filters([pair(answer=answer)], FilterParams())
    assert kept, dropped[0].reason


def test_api_docs_that_name_the_given_text_or_carry_inline_examples_are_kept():
    import inspect
    import statistics
    import textwrap as tw

    for obj in (tw.shorten, statistics.stdev, float.hex):
        answer = " ".join(inspect.getdoc(obj).split())  # "the given text", ">>> stdev([1.5, ...])"
        kept, dropped = apply_filters([pair(answer=answer)], FilterParams())
        assert kept, (obj, dropped[0].reason)


def test_gopher_rules_are_opt_in_and_apply_to_long_texts_only():
    loop = "LoRA adds a low rank update to the frozen weights and " * 8
    assert gopher_repetition(pair(answer=loop), FilterParams()) is None  # off by default
    on = FilterParams(gopher_repetition=True)
    assert gopher_repetition(pair(answer=loop), on).startswith("top_")
    short = "Rank sets the capacity; the capacity of the update is set by rank."
    assert gopher_repetition(pair(answer=short), on) is None  # under repetition_min_words


def test_thresholds_come_from_params_and_ledger_balances():
    pairs = [pair(), pair(answer="Short but fine answer.")]
    kept, dropped = apply_filters(pairs, FilterParams(min_answer_words=2))
    assert len(kept) == 2 and not dropped
    kept, dropped = apply_filters(pairs, FilterParams(min_answer_words=5))
    assert len(kept) == 1 and len(dropped) == 1
