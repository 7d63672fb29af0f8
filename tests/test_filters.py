import pytest

from tuneline.filters import FILTERS, apply_filters
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
    (pair(answer="As an AI language model, I cannot give opinions on training ranks here."), "banned_phrase"),
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


def test_thresholds_come_from_params_and_ledger_balances():
    pairs = [pair(), pair(answer="Short but fine answer.")]
    kept, dropped = apply_filters(pairs, FilterParams(min_answer_words=2))
    assert len(kept) == 2 and not dropped
    kept, dropped = apply_filters(pairs, FilterParams(min_answer_words=5))
    assert len(kept) == 1 and len(dropped) == 1
