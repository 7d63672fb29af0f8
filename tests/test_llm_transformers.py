"""The transformers backend on the real bundled SmolLM2 (no fakes)."""

import pytest

from tuneline import judge
from tuneline.formats import user_chat
from tuneline.llm import make_llm
from tuneline.params import LLMParams


@pytest.fixture(scope="module")
def smollm():
    return make_llm(LLMParams(batch_size=4, cache=False))  # compare real generations, not stored ones


def test_batched_greedy_generation_matches_one_at_a_time_in_input_order(smollm):
    chats = [user_chat(q) for q in (
        "Explain in one sentence what a tokenizer does for a language model.",
        "Name a color.",
        "What is LoRA?",
    )]
    batched = smollm.generate(chats, max_new_tokens=12)
    single = [smollm.generate([c], max_new_tokens=12)[0] for c in chats]
    assert batched == single and all(batched)


def test_generation_stops_at_the_end_of_turn(smollm):
    reply = smollm.generate([user_chat("Say only the word yes.")], max_new_tokens=40)[0]
    assert "<|im_end|>" not in reply and "<|im_start|>" not in reply


def test_judge_ranks_a_correct_answer_above_a_non_answer(smollm):
    q = "What does gradient checkpointing trade?"
    good = ("Gradient checkpointing trades compute for memory: it stores only some activations "
            "and recomputes the rest during the backward pass.")
    (good_score, said), (bad_score, _) = judge.score(smollm, [(q, good), (q, "no")])
    assert said.startswith("digit probability")
    assert good_score is not None and bad_score is not None  # mass on "1".."5" was >= 0.5
    assert 1 <= bad_score < good_score <= 5
