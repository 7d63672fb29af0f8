"""The transformers backend (no fakes): on the real bundled SmolLM2 where an assertion needs
its weights (it stops at the end of its turn, it judges), on tests/tiny.py's random model of
the same architecture and tokenizer where it holds for any weights (sampling, the schema's
constraint): the same code paths at a fraction of the time."""

import pytest

from tests import tiny
from tuneline.curation import judge
from tuneline.llm import make_llm
from tuneline.params import LLMParams
from tuneline.train.formats import user_chat


@pytest.fixture(scope="module")
def smollm():
    # compare real generations, not stored ones; in float32, where left padding leaves the
    # numbers unchanged (in bf16 a row's neighbours in the batch move its low-order bits)
    return make_llm(LLMParams(batch_size=4, cache=False, dtype="float32"))


@pytest.fixture(scope="module")
def tiny_llm():
    return make_llm(LLMParams(model=tiny.path(), batch_size=4, cache=False, dtype="float32"))


def test_batched_greedy_generation_matches_one_at_a_time_in_input_order(smollm):
    chats = [user_chat(q) for q in (
        "Explain in one sentence what a tokenizer does for a language model.",
        "Name a color.",
        "What is LoRA?",
    )]
    # (the random model's greedy reply repeats the prompt's last newline: empty once stripped)
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


def test_weights_are_bf16_only_where_the_hardware_runs_it_natively_and_cached_apart():
    from tuneline.llm.transformers_backend import cpu_has_native_bf16, resolve_dtype

    assert cpu_has_native_bf16("flags : fpu sse avx2 avx512f avx512_bf16 amx_tile")
    assert not cpu_has_native_bf16("flags : fpu sse avx2 fma")  # emulated bf16 is slower
    assert resolve_dtype("auto", "cuda:0") == "bfloat16"
    assert resolve_dtype("float32", "cuda") == "float32"
    assert resolve_dtype("auto", "cpu") in ("float32", "bfloat16")
    fp32 = make_llm(LLMParams(dtype="float32", cache=False))
    bf16 = make_llm(LLMParams(dtype="bfloat16", cache=False))
    assert str(fp32.model.dtype) == "torch.float32" and str(bf16.model.dtype) == "torch.bfloat16"
    assert fp32.identity != bf16.identity  # a cached fp32 reply is not served as a bf16 one
    chat = [[{"role": "user", "content": "Name a colour."}]]
    assert bf16.generate(chat, max_new_tokens=8)[0].strip()


def test_a_sampled_reply_depends_on_its_prompt_not_on_its_batch(tiny_llm):
    chats = [user_chat(q) for q in ("Name a fruit.", "Write a short greeting.",
                                    "What is the capital of France?", "Describe the sea.")]
    kw = {"max_new_tokens": 12, "temperature": 0.9, "top_p": 0.9}
    together = tiny_llm.generate(chats, **kw)
    reordered = tiny_llm.generate([chats[2], chats[3], chats[0]], **kw)
    alone = tiny_llm.generate([chats[0]], **kw)
    assert reordered == [together[2], together[3], together[0]] and alone == [together[0]]
    # two samples of one prompt in one call are two draws
    twice = tiny_llm.generate([chats[3], chats[3], chats[3]], **kw)
    assert len(set(twice)) > 1


def test_per_row_sampling_draws_from_the_tempered_top_p_distribution():
    import torch

    from tuneline.llm import sampling

    logits = torch.tensor([[2.0, 1.0, 0.5, -1.0, -3.0]])
    temperature, top_p, n = 0.8, 0.9, 4000
    probs = torch.softmax(logits[0] / temperature, dim=-1)
    # top-p keeps the most likely tokens until their mass reaches 0.9: here the first three
    kept = int((probs.sort(descending=True).values.cumsum(0) - probs.sort(descending=True).values
                < top_p).sum())
    expected = torch.zeros_like(probs)
    expected[:kept] = probs[:kept] / probs[:kept].sum()
    counts = torch.zeros_like(probs)
    for seed in range(n):
        proc = sampling.processor([sampling.row_seed(str(seed))], temperature, top_p, prompt_length=0)
        counts[int(proc(torch.zeros(1, 0, dtype=torch.long), logits.clone()).argmax())] += 1
    assert counts[kept:].sum() == 0
    # within 4 standard errors of each kept token's probability
    for p, c in zip(expected[:kept].tolist(), (counts[:kept] / n).tolist()):
        assert abs(c - p) < 4 * (p * (1 - p) / n) ** 0.5, (c, p)


def test_a_schema_constrains_every_reply_to_valid_json_of_that_shape_greedy_and_sampled(tiny_llm):
    import json

    from jsonschema import validate

    items = [("What does LoRA train?", "Two small low-rank matrices added to frozen weights."),
             ("How do I bake bread?", "Paris is in France.", "Bread needs flour, water and heat."),
             ("What is a tokenizer?", "It splits text into tokens.")]
    chats = [judge.judge_chat(*it, text_format=judge.TEXT_FORMAT) for it in items]
    # unconstrained, random weights write no score at all: whatever the model, the shape
    # comes from the constraint
    free = tiny_llm.generate(chats, max_new_tokens=48)
    assert all(judge.parse_score(r) is None for r in free), free
    greedy = tiny_llm.generate(chats, max_new_tokens=48, schema=judge.SCORE_SCHEMA)
    sampled = tiny_llm.generate(chats, max_new_tokens=48, temperature=1.0, schema=judge.SCORE_SCHEMA)
    for reply in greedy + sampled:
        validate(json.loads(reply), judge.SCORE_SCHEMA)
    # batching does not mix the rows' parser states
    assert tiny_llm.generate(chats[1:2], max_new_tokens=48, schema=judge.SCORE_SCHEMA) == greedy[1:2]


def test_a_text_judge_on_the_in_process_backend_gives_every_pair_a_score_without_retries(tiny_llm):
    """The backend constrains the judge's reply to its schema, so a score parses whatever the
    weights (a random model's here; whether the scores mean anything is what the judge step's
    separation probe measures: tests/test_judge.py)."""
    from tuneline.params import JudgeParams

    items = [("What does LoRA train?", "Two small low-rank matrices added to frozen weights."),
             ("What does LoRA train?", "Bananas.")]
    verdicts = judge.score(tiny_llm, items, JudgeParams(method="text", retries=0))
    assert all(value is not None and said.lstrip().startswith("{") for value, said in verdicts), verdicts


def test_a_reply_repeats_no_run_of_its_own_tokens_with_no_repeat_and_the_prompts_stay_allowed(tiny_llm):
    chats = [user_chat("What does the append method of a list do? What does the")]
    # random weights loop on one token: the guard is what stops it
    loops = tiny_llm.generate(chats, max_new_tokens=24)
    guarded = tiny_llm.generate(chats, max_new_tokens=24, no_repeat=3)
    ids = tiny_llm.tokenizer.encode(guarded[0], add_special_tokens=False)
    runs = [tuple(ids[i:i + 3]) for i in range(len(ids) - 2)]
    assert len(runs) >= 5 and len(set(runs)) == len(runs), guarded
    assert guarded != loops
