"""Conversations (a system prompt, several user/assistant turns) from import to training rows and
export: the loss mask read off real chat templates, packing, DPO's split, dedup, filters, the
judge per turn, and a ShareGPT file through import -> curation -> export. The turns' text is the
stdlib's own documentation (docstrings), not written here."""

import inspect
import json
import textwrap

import pytest

from tests.conftest import FakeLLM
from tuneline import models
from tuneline.curation import dedup, filters, judge, turns
from tuneline.curation.decontaminate import decontaminate
from tuneline.documents.ingest import read_sources, scan_sources
from tuneline.params import (
    DecontamParams,
    DedupParams,
    EmbeddingParams,
    FilterParams,
    IngestParams,
    JudgeParams,
)
from tuneline.records import Pair, Preference, messages
from tuneline.train import formats

BASE = "bundled:smollm2-135m-instruct"
FUNCS = [textwrap.dedent, textwrap.fill, textwrap.indent, textwrap.shorten, json.dumps, json.loads]
DOCS = {f.__name__: inspect.getdoc(f).split("\n\n")[0].replace("\n", " ") for f in FUNCS}
SYSTEM = "Answer from the Python standard library documentation."


def conversation(*names: str, system: str = SYSTEM, source: str = "chat.jsonl:1") -> Pair:
    turns = [(f"What does {n} do?" if k == 0 else f"And what does {n} do?", DOCS[n])
             for k, n in enumerate(names)]
    return Pair(f"id-{'-'.join(names)}", "", source, *turns[-1], system=system,
                history=tuple(turns[:-1]))


@pytest.fixture(scope="module")
def tok():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(models.resolve(BASE))


def templates():
    """The bundled model's own template, and ChatML and Llama-3 as llama.cpp ships them, each
    with the text that ends an assistant turn."""
    out = [pytest.param(None, "<|im_end|>\n", id="bundled")]
    try:
        from llama_cpp import llama_chat_format as f
    except ImportError:  # installed by `make test`'s llama.cpp build, not by `make setup`
        return out + [pytest.param(None, None, id=i, marks=pytest.mark.skip("llama_cpp not installed"))
                      for i in ("chatml", "llama-3")]
    return out + [pytest.param(f.CHATML_CHAT_TEMPLATE, "<|im_end|>\n", id="chatml"),
                  pytest.param(f.LLAMA3_INSTRUCT_CHAT_TEMPLATE, "<|eot_id|>", id="llama-3")]


def runs(mask: list[int]) -> list[tuple[int, int]]:
    """(start, end) of each run of 1s."""
    out, start = [], None
    for i, m in enumerate(mask + [0]):
        if m and start is None:
            start = i
        elif not m and start is not None:
            out.append((start, i))
            start = None
    return out


@pytest.mark.parametrize("template,turn_end", templates())
def test_the_loss_mask_is_exactly_the_tokens_of_every_assistant_turn(tok, template, turn_end):
    conv = messages(conversation("dedent", "fill", "dumps"))
    ids, mask = formats.conversation_tokens(tok, conv, template)
    # the ids are the template's own tokenization of the conversation
    assert ids == list(tok.apply_chat_template(conv, tokenize=True, return_dict=False,
                                               chat_template=template))
    assistant_turns = [m["content"] for m in conv if m["role"] == "assistant"]
    spans = runs(mask)
    assert len(spans) == len(assistant_turns) == 3
    if turn_end.strip() in tok.get_vocab():
        # one run per assistant turn: its text and the marker that ends it, nothing else
        assert [tok.decode(ids[a:b]) for a, b in spans] == [t + turn_end for t in assistant_turns]
        assert sum(mask) == sum(len(tok(t + turn_end, add_special_tokens=False)["input_ids"])
                                for t in assistant_turns)
    else:  # a marker this vocabulary spells in pieces: the last one may reach into the next turn
        for (a, b), text in zip(spans, assistant_turns):
            assert tok.decode(ids[a:b]).startswith(text + turn_end)
            assert not tok.decode(ids[a:b - 1]).startswith(text + turn_end)
    unmasked = tok.decode([t for t, m in zip(ids, mask) if not m])
    assert SYSTEM in unmasked and all(m["content"] in unmasked for m in conv if m["role"] == "user")
    assert not any(t in unmasked for t in assistant_turns)


def test_a_single_turn_pair_trains_on_the_tokens_trl_masks_for_prompt_and_completion(tok):
    pair = conversation("indent", system="")
    row, = formats.sft_rows([pair])
    assert set(row) == {"prompt", "completion"}  # single-turn data: TRL's rows, as before
    # what TRL's prompt/completion tokenization computes (sft_trainer.tokenize_fn)
    prompt = tok.apply_chat_template(row["prompt"], add_generation_prompt=True, tokenize=True,
                                     return_dict=False)
    full = tok.apply_chat_template(row["prompt"] + row["completion"], tokenize=True, return_dict=False)
    ids, mask = formats.conversation_tokens(tok, messages(pair))
    assert ids == list(full) and mask == [0] * len(prompt) + [1] * (len(full) - len(prompt))


def test_a_template_that_rewrites_earlier_turns_is_refused_with_the_turn(tok):
    # like reasoning models' templates, which drop earlier assistant turns' content
    rewrites = ("{% for m in messages %}{% if m.role == 'assistant' and not loop.last %}"
                "<|im_start|>assistant\n...<|im_end|>\n{% else %}<|im_start|>{{ m.role }}\n"
                "{{ m.content }}<|im_end|>\n{% endif %}{% endfor %}"
                "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
    with pytest.raises(ValueError, match="assistant turn 1 as the start"):
        formats.conversation_tokens(tok, messages(conversation("dedent", "fill")), rewrites)


def test_conversations_become_tokenized_rows_with_a_default_system_prompt(tok):
    pairs = [conversation("dedent", "fill", system=""), conversation("dumps")]
    rows = formats.sft_rows(pairs, system="Be brief.")
    assert [r["messages"][0] for r in rows] == [{"role": "system", "content": "Be brief."},
                                                {"role": "system", "content": SYSTEM}]
    data = formats.trainer_dataset(rows, tok)
    assert data.column_names == ["input_ids", "labels"]
    ids, mask = formats.conversation_tokens(tok, rows[0]["messages"])
    assert data[0]["labels"] == [t if m else -100 for t, m in zip(ids, mask)]


def test_dpo_on_a_three_turn_conversation_prompts_with_every_earlier_turn():
    talk = conversation("dedent", "fill", "shorten")
    pref = Preference(talk.pair_id, talk.instruction, talk.answer, "It deletes text.", 4.0, 1.0,
                      system=talk.system, history=talk.history)
    row, = formats.dpo_rows([pref])
    assert [m["role"] for m in row["prompt"]] == ["system", "user", "assistant", "user",
                                                  "assistant", "user"]
    assert row["prompt"][-1]["content"] == "And what does shorten do?"
    assert row["prompt"][2]["content"] == DOCS["dedent"]
    assert row["chosen"] == [{"role": "assistant", "content": DOCS["shorten"]}]
    assert row["rejected"] == [{"role": "assistant", "content": "It deletes text."}]


@pytest.mark.slow  # trains a model (the tiny one: seconds)
def test_packed_conversations_stay_whole_and_attend_only_within_themselves(tmp_path):
    from tests import tiny
    from tests.test_packing import packed_and_one_by_one
    from tuneline import train
    from tuneline.params import SFTParams

    names = list(DOCS)
    pairs = [conversation(*names[i:i + 2 + i % 2], source=f"c:{i}") for i in range(4)]
    rows = formats.sft_rows(pairs)
    params = SFTParams(backend="trl", packing=True, batch_size=4, max_length=1024, max_steps=1)
    trainer, _, _ = train._backend(params).sft_trainer(tiny.path(), rows, params, tmp_path)
    batch = trainer._prepare_inputs(next(iter(trainer.get_train_dataloader())))
    pos, labels = batch["position_ids"][0].tolist(), batch["labels"][0].tolist()
    starts = [i for i, p in enumerate(pos) if p == 0] + [len(pos)]
    # every conversation whole, its labels the assistant tokens computed for it alone
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny.path())
    alone = {tuple(formats.conversation_tokens(tok, r["messages"])[0]): r for r in rows}
    ids = batch["input_ids"][0].tolist()
    assert len(starts) - 1 == len(rows)
    for a, b in zip(starts, starts[1:]):
        row = alone[tuple(ids[a:b])]
        seq, mask = formats.conversation_tokens(tok, row["messages"])
        # the collator shifts nothing; the first label of each conversation is masked at its border
        assert labels[a + 1:b] == [t if m else -100 for t, m in zip(seq, mask)][1:]
    packed, one_by_one, crossed, examples = packed_and_one_by_one(trainer)
    assert examples == len(rows) and packed == pytest.approx(one_by_one, rel=1e-6)
    assert abs(crossed - one_by_one) > 1e-4 * one_by_one  # attending across them would differ


def test_dedup_keeps_conversations_that_share_an_opening_but_diverge():
    a = conversation("dedent", "fill", source="a")
    diverging = conversation("dedent", "loads", source="b")
    longer = conversation("dedent", "fill", "dumps", source="c")
    copy = conversation("dedent", "fill", source="d")
    pairs = [a, diverging, longer, Pair("copy", *[getattr(copy, f) for f in (
        "chunk_id", "source", "instruction", "answer")], system=copy.system, history=copy.history)]
    params = DedupParams()
    kept, dropped = dedup.exact_dedup(pairs)
    assert [d.record["pair_id"] for d in dropped] == ["copy"]
    kept, dropped = dedup.minhash_dedup(kept, params)
    assert not dropped and {p.source for p in kept} == {"a", "b", "c"}
    assert dedup.turns_diverge(a, diverging, params.answer_overlap_threshold)
    assert dedup.turns_diverge(a, longer, params.answer_overlap_threshold)
    assert not dedup.turns_diverge(a, copy, params.answer_overlap_threshold)


def test_a_junk_follow_up_drops_the_conversation_or_truncates_it_at_that_turn():
    junk = "ok ok ok ok ok ok ok ok ok ok ok ok ok ok ok ok ok ok ok ok ok ok ok ok"
    talk = conversation("dedent", "fill", "dumps")
    bad = Pair("bad", "", "chat.jsonl:2", "And then?", junk, system=SYSTEM,
               history=talk.history[:2])
    short_follow_up = Pair("short", "", "chat.jsonl:3", "Why?", DOCS["loads"],
                           history=talk.history[:1])
    kept, dropped = filters.apply_filters([talk, bad, short_follow_up], FilterParams())
    assert [p.pair_id for p in kept] == [talk.pair_id, "short"]  # a follow-up may be short
    assert [(d.reason, d.detail) for d in dropped] == [("looping_repetition", "turn 3 of 3")]
    kept, dropped = filters.apply_filters([bad], FilterParams(junk_turn="truncate"))
    assert [(p.instruction, p.answer, p.history) for p in kept] == [(*talk.history[1], talk.history[:1])]
    assert dropped[0].reason == "truncated:looping_repetition"
    assert dropped[0].detail.endswith(f"kept as {kept[0].pair_id}")
    assert dropped[0].record["answer"] == junk  # the whole conversation is in the ledger
    from tuneline.records import ledger

    assert ledger("filter", 1, len(kept), dropped)["kept"] == 1  # balances: cut, not lost


def test_the_judge_scores_every_turn_in_context_and_ends_the_conversation_at_a_low_one():
    talk = conversation("dedent", "fill", "dumps")
    # P over 1..5 per judged turn: 5, 4, then 1
    jury = FakeLLM(probs=[[0, 0, 0, 0, 1], [0, 0, 0, 1, 0], [1, 0, 0, 0, 0]])
    kept, dropped, _ = judge.judge_pairs([talk], [jury], JudgeParams(separation_probes=0))
    assert jury.calls == [("choice_probs", 3)]
    # the two turns the judge passed, as a conversation of their own, with their lowest score
    assert [(p.history, p.instruction, p.score) for p in kept] == [
        (talk.history[:1], talk.history[1][0], 4.0)]
    assert [(d.reason, d.record["pair_id"], d.record["score"]) for d in dropped] == [
        ("truncated:low_judge_score", talk.pair_id, 1.0)]
    assert dropped[0].detail.startswith("turn 3 of 3: 1.00 < 2.5")
    third = judge.in_context(turns.views([talk])[0][2])
    assert third.startswith("(Earlier in the conversation:\nUser: What does dedent do?")
    assert third.endswith("And what does dumps do?")
    one_bad_opening = FakeLLM(probs=[[1, 0, 0, 0, 0], [0, 0, 0, 0, 1], [0, 0, 0, 0, 1]])
    kept, dropped, _ = judge.judge_pairs([talk], [one_bad_opening], JudgeParams(separation_probes=0))
    assert not kept and dropped[0].reason == "low_judge_score"


def test_a_follow_up_may_lean_on_earlier_turns_where_an_opening_question_may_not():
    from tuneline.curation import source_checks
    from tuneline.params import GroundingParams

    leaning = "How does it collapse and truncate the text?"
    opening = Pair("o", "", "x", leaning, DOCS["shorten"])
    follow = Pair("f", "", "y", leaning, DOCS["shorten"],
                  history=(("What does textwrap.shorten do?", DOCS["shorten"]),))
    encoder = dedup.load_encoder(EmbeddingParams().model, 64, "cpu")
    kept, dropped, _ = source_checks.run_source_checks([opening, follow], {}, encoder,
                                                       GroundingParams())
    assert [p.pair_id for p in kept] == ["f"]
    assert [(d.record["pair_id"], d.reason) for d in dropped] == [("o", "question_needs_context")]


def test_decontamination_reads_every_turn_but_not_a_shared_system_prompt():
    test = [conversation("dedent", "fill", source="t")]
    # shares only the system prompt, which is 8+ words, with the test split
    other = conversation("dumps", "loads", source="x")
    # its first turn is the test conversation's second answer
    leaked = Pair("l", "", "y", "What does loads do?", DOCS["loads"],
                  history=(("What does fill do?", DOCS["fill"]),))
    kept, dropped = decontaminate([other, leaked], test, DecontamParams())
    assert [p.source for p in kept] == ["x"] and dropped[0].record["pair_id"] == "l"


def test_a_sharegpt_file_keeps_every_turn_and_its_system_prompt_from_import_to_export(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    talks = [conversation("dedent", "fill", "dumps"), conversation("loads", "indent", system=""),
             conversation("shorten")]
    (raw / "chat.jsonl").write_text("".join(json.dumps(formats.export_pair("sharegpt", t)) + "\n"
                                            for t in talks))
    params = IngestParams()
    files, _ = scan_sources(raw, params)
    got = read_sources(raw, files, params)
    assert not got.dropped
    curated, dropped = filters.apply_filters(got.pairs, FilterParams())
    assert not dropped
    encoder = dedup.load_encoder(EmbeddingParams().model, 64, "cpu")  # the bundled embedder
    for _, _, curated, dropped in dedup.dedup(curated, DedupParams(), encoder):
        assert not dropped
    out = tmp_path / "export"
    formats.write_export("sharegpt", {"train": curated}, out)
    back = [json.loads(line)["conversations"] for line in (out / "train.jsonl").read_text().splitlines()]
    want = [[{"from": {"system": "system", "user": "human", "assistant": "gpt"}[m["role"]],
              "value": m["content"]} for m in messages(t)] for t in talks]
    assert back == want
    formats.write_export("openai", {"train": curated}, out)
    assert [json.loads(x)["messages"] for x in (out / "train.jsonl").read_text().splitlines()] == [
        messages(t) for t in talks]
    formats.write_export("alpaca", {"train": curated}, out)
    first = json.loads((out / "train.jsonl").read_text().splitlines()[0])
    assert first["system"] == SYSTEM and first["history"] == [list(e) for e in talks[0].history]


def test_a_follow_up_that_asks_the_opening_question_again_is_cut_and_a_new_one_kept():
    from tuneline.curation import source_checks
    from tuneline.params import GroundingParams

    opening = ("What does textwrap.shorten do?", DOCS["shorten"])
    again = Pair("again", "", "x", "What does the textwrap.shorten function do?", DOCS["fill"],
                 history=(opening,))
    new = Pair("new", "", "y", "What does textwrap.fill do?", DOCS["fill"], history=(opening,))
    encoder = dedup.load_encoder(EmbeddingParams().model, 64, "cpu")
    kept, dropped, _ = source_checks.run_source_checks([again, new], {}, encoder, GroundingParams())
    assert [p.pair_id for p in kept][1:] == ["new"]
    assert kept[0].history == () and kept[0].instruction == opening[0]  # the opening, kept alone
    assert dropped[0].reason == "truncated:repeats_earlier_question"
    assert "asks what turn 1 asked" in dropped[0].detail
