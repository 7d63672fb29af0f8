"""Conservation, as a property over random inputs: for every curation stage, records in =
kept + dropped, each input is accounted for exactly once, and every dropped record has a reason.

The LLM here is a random one (any reply: empty, garbage, a question, a number, a refusal; any
probabilities): stages must hold their ledger whatever a real model answers.
"""

import random
from collections import Counter

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tuneline.curation import dedup, filters, generate, grounding, judge, preferences, split
from tuneline.curation.decontaminate import decontaminate
from tuneline.params import (
    DecontamParams,
    DedupParams,
    FilterParams,
    GenerateParams,
    GroundingParams,
    JudgeParams,
    PreferenceParams,
    SplitParams,
)
from tuneline.records import Chunk, Pair

WORDS = ["lora", "rank", "adapter", "the", "a", "is", "what", "how", "why", "data", "dedup",
         "{", "}", "```python", "```", "json", "!!!", "as an AI language model", "42", "é", ""]
texts = st.lists(st.sampled_from(WORDS), min_size=0, max_size=60).map(" ".join)
REPLIES = ["", "   ", "What is LoRA?", "Question: How does rank affect memory?", "Score: 4",
           "5", "{\"score\": 2}", "seven", "I cannot help with that.", "```python\nx = (\n```",
           "LoRA trains two small matrices per layer. It saves memory.", "\x00\x01", "?" * 50]


@st.composite
def pair_lists(draw, max_size=25):
    # drawn from a small pool so that exact and near duplicates are common
    pool = draw(st.lists(st.tuples(texts, texts), min_size=1, max_size=8))
    picks = draw(st.lists(st.integers(0, len(pool) - 1), max_size=max_size))
    return [Pair(f"p{i}", f"c{i % 5}", f"doc{i % 3}.md", *pool[k]) for i, k in enumerate(picks)]


class RandomLLM:
    """Any reply from REPLIES, any probabilities: a model that may say anything."""

    name = "random"

    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self.usage = {}

    def generate(self, chats, *, max_new_tokens, temperature=0.0, top_p=1.0, desc="", schema=None,
                 no_repeat=None):
        return [self.rng.choice(REPLIES) for _ in chats]

    def choice_probs(self, chats, prefix, choices, *, desc=""):
        out = []
        for _ in chats:
            raw = [self.rng.random() ** 3 for _ in choices]
            scale = self.rng.choice([0.0, 0.2, 1.0])  # mass left off the digits
            out.append([x * scale / (sum(raw) or 1) for x in raw])
        return out


def conserved(inputs: list, kept: list, dropped: list, key) -> None:
    assert len(inputs) == len(kept) + len(dropped)
    assert all(d.reason and d.stage for d in dropped)
    accounted = Counter([key(k) for k in kept] + [key(d.record) for d in dropped])
    assert accounted == Counter(key(i) for i in inputs)


def pid(x) -> str:
    return x.pair_id if isinstance(x, Pair) else x["pair_id"]


FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(pair_lists())
def test_filters_conserve(pairs):
    params = FilterParams(repetition_min_words=5, gopher_repetition=True, loop_min_words=3)
    kept, dropped = filters.apply_filters(pairs, params)
    conserved(pairs, kept, dropped, pid)


@FAST
@given(pair_lists())
def test_dedup_stages_conserve(pairs):
    kept, dropped = dedup.exact_dedup(pairs)
    conserved(pairs, kept, dropped, pid)
    kept2, dropped2 = dedup.minhash_dedup(kept, DedupParams())
    conserved(kept, kept2, dropped2, pid)
    # a random encoder: whatever the similarities, nothing is lost or dropped twice
    rng = np.random.default_rng(len(kept2))

    def encode(texts):
        v = rng.normal(size=(len(texts), 4)).astype(np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    kept3, dropped3 = dedup.embedding_dedup(kept2, encode, DedupParams(
        embedding_instruction_threshold=0.1, embedding_answer_threshold=0.1, entity_check=False))
    conserved(kept2, kept3, dropped3, pid)


@FAST
@given(pair_lists(), st.floats(-1, 1), st.floats(0, 1), st.integers(0, 2**16))
def test_grounding_conserves_whatever_the_similarities(pairs, min_cosine, min_overlap, seed):
    rng = np.random.default_rng(seed)

    def encode(texts):
        v = rng.normal(size=(len(texts), 4)).astype(np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    chunks = {p.chunk_id: f"source text {n}" for n, p in enumerate(pairs) if n % 3}  # some unknown
    kept, dropped, stats = grounding.check_grounding(
        pairs, chunks, encode, GroundingParams(min_cosine=min_cosine, min_overlap=min_overlap))
    conserved(pairs, kept, dropped, pid)
    assert stats["checked"] + stats["without_source_chunk"] == len(pairs)


@FAST
@given(st.lists(texts, max_size=8), st.integers(1, 3), st.integers(0, 2**16),
       st.sampled_from(["answer_first", "two_pass"]))
def test_generation_conserves_attempts(chunk_texts, per_chunk, seed, mode):
    chunks = [Chunk(f"c{i}", f"d{i}", "doc.md", t) for i, t in enumerate(chunk_texts)]
    params = GenerateParams(questions_per_chunk=per_chunk, mode=mode)
    kept, dropped = generate.generate_pairs(chunks, RandomLLM(seed), params)
    assert len(kept) + len(dropped) == len(generate.attempts(chunks, params))
    if mode == "two_pass":
        assert len(generate.attempts(chunks, params)) == len(chunks) * per_chunk
    assert all(d.reason for d in dropped)


@FAST
@given(pair_lists(), st.sampled_from(["logprobs", "text"]), st.integers(1, 3),
       st.integers(0, 2**16))
def test_judging_conserves_whatever_the_judges_say(pairs, method, n_judges, seed):
    judges = [RandomLLM(seed + n) for n in range(n_judges)]
    kept, dropped, _ = judge.judge_pairs(pairs, judges, JudgeParams(method=method))
    conserved(pairs, kept, dropped, pid)
    assert all(p.score is not None for p in kept)


@FAST
@given(pair_lists(), st.integers(1, 2), st.integers(0, 2**16))
def test_preferences_conserve(pairs, n_judges, seed):
    judges = [RandomLLM(seed + 1 + n) for n in range(n_judges)]
    kept, dropped = preferences.build_preferences(
        pairs, RandomLLM(seed), judges, GenerateParams(), JudgeParams(), PreferenceParams())
    conserved(pairs, kept, dropped, pid)


@FAST
@given(pair_lists(max_size=40).filter(lambda ps: len(ps) >= 2), st.floats(0.05, 0.5))
def test_split_and_decontamination_conserve(pairs, test_share):
    train, test = split.split_pairs(pairs, SplitParams(test_fraction=test_share))
    assert Counter(map(pid, train + test)) == Counter(map(pid, pairs))
    kept, dropped = decontaminate(train, test, DecontamParams(ngram=3))
    conserved(train, kept, dropped, pid)
