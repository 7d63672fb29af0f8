import pytest

from tuneline.filters import FILTERS, apply_filters, dup_ngram_char_ratio, top_ngram_char_ratio
from tuneline.params import FilterParams
from tuneline.records import Pair

GOOD_Q = "What does the LoRA rank control?"
GOOD_A = "The rank sets the capacity of the low-rank update: a higher rank trains more parameters."


def pair(instruction=GOOD_Q, answer=GOOD_A):
    return Pair("p", "c", "s", instruction, answer)


@pytest.mark.parametrize("record, reason", [
    (pair(instruction="Why?"), "instruction_too_short"),
    (pair(instruction="word " * 61 + "?"), "instruction_too_long"),
    (pair(answer="Yes it does."), "answer_too_short"),
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


def test_gopher_ngram_ratios():
    words = ("the rank sets the capacity " * 10).split()
    assert top_ngram_char_ratio(words, 2) > 0.2
    assert dup_ngram_char_ratio(words, 5) > 0.8
    varied = [f"w{i}" for i in range(100)]
    assert top_ngram_char_ratio(varied, 2) < 0.05 and dup_ngram_char_ratio(varied, 5) == 0


def test_looping_answers_are_dropped_for_repetition_and_short_ones_are_exempt():
    loop = "LoRA adds a low rank update to the frozen weights. " * 6
    kept, dropped = apply_filters([pair(answer=loop)], FilterParams())
    assert dropped[0].reason.startswith("top_") and dropped[0].reason.endswith("gram_repetition")
    short = "Rank sets the capacity; the capacity of the update is set by rank."
    assert apply_filters([pair(answer=short)], FilterParams())[0]


def test_thresholds_come_from_params_and_ledger_balances():
    pairs = [pair(), pair(answer="Short but fine answer.")]
    kept, dropped = apply_filters(pairs, FilterParams(min_answer_words=2))
    assert len(kept) == 2 and not dropped
    kept, dropped = apply_filters(pairs, FilterParams(min_answer_words=5))
    assert len(kept) == 1 and len(dropped) == 1
