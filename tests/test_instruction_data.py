"""Existing instruction data in the shapes other tools write (Alpaca, ShareGPT, OpenAI messages,
TRL/OpenAI preferences), from JSONL/JSON files and Hugging Face datasets; the answers are
the first sentences of stdlib docstrings."""

import inspect
import json
import textwrap
from dataclasses import replace

import pytest

from tests.conftest import FakeLLM
from tuneline.curation.preferences import build_preferences
from tuneline.documents.ingest import read_sources, scan_sources
from tuneline.records import messages
from tuneline.params import (
    DatasetSource,
    GenerateParams,
    IngestParams,
    JudgeParams,
    PreferenceParams,
)

FUNCS = [textwrap.dedent, textwrap.fill, textwrap.indent, textwrap.shorten, json.dumps, json.loads]
QA = [(f"What does {f.__module__}.{f.__name__} do?", inspect.getdoc(f).split("\n\n")[0].replace("\n", " "))
      for f in FUNCS]


def write_jsonl(path, rows):
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))


def ingest(folder, **kw):
    params = IngestParams(**kw)
    files, _ = scan_sources(folder, params)
    return files, read_sources(folder, files, params)


def test_each_shape_becomes_pairs_with_file_and_line_as_source(tmp_path):
    (q0, a0), (q1, a1), (q2, a2), (q3, a3) = QA[:4]
    write_jsonl(tmp_path / "alpaca.jsonl", [
        {"instruction": q0, "input": "", "output": a0},
        {"instruction": "Summarise this docstring.", "input": a1, "output": "It wraps text."}])
    write_jsonl(tmp_path / "sharegpt.jsonl", [
        {"conversations": [{"from": "human", "value": q2}, {"from": "gpt", "value": a2}]}])
    write_jsonl(tmp_path / "openai.jsonl", [
        {"messages": [{"role": "user", "content": q3}, {"role": "assistant", "content": a3}]}])
    (tmp_path / "alpaca_data.json").write_text(json.dumps(  # Alpaca's own release: one JSON array
        [{"instruction": q, "input": "", "output": a} for q, a in QA[4:]]))
    files, got = ingest(tmp_path)
    assert not got.documents and not got.dropped and not got.preferences
    by_source = {p.source: p for p in got.pairs}
    assert set(by_source) == {"alpaca.jsonl:1", "alpaca.jsonl:2", "sharegpt.jsonl:1",
                              "openai.jsonl:1", "alpaca_data.json:1", "alpaca_data.json:2"}
    assert (by_source["alpaca.jsonl:1"].instruction, by_source["alpaca.jsonl:1"].answer) == (q0, a0)
    # Alpaca's input follows the instruction, as in Alpaca's prompt
    assert by_source["alpaca.jsonl:2"].instruction == f"Summarise this docstring.\n\n{a1}"
    assert by_source["openai.jsonl:1"].answer == a3
    assert all(p.chunk_id == "" for p in got.pairs)  # no source chunk: grounding passes them
    assert len({p.pair_id for p in got.pairs}) == len(got.pairs)


def test_system_prompts_and_every_turn_are_imported(tmp_path):
    (q0, a0), (q1, a1), (q2, a2) = QA[:3]
    write_jsonl(tmp_path / "chat.jsonl", [
        {"messages": [{"role": "system", "content": "You are terse."},
                      {"role": "user", "content": q1}, {"role": "assistant", "content": a1}]},
        {"messages": [{"role": "user", "content": q0}, {"role": "assistant", "content": a0},
                      {"role": "user", "content": q1}, {"role": "assistant", "content": a1},
                      {"role": "user", "content": q2}, {"role": "assistant", "content": a2}]},
    ])
    write_jsonl(tmp_path / "share.jsonl", [
        {"conversations": [{"from": "system", "value": "Answer from the docs."},
                           {"from": "human", "value": q2}, {"from": "gpt", "value": a2},
                           {"from": "human", "value": q0}, {"from": "gpt", "value": a0}]}])
    _, got = ingest(tmp_path)
    assert not got.dropped
    by_source = {p.source: p for p in got.pairs}
    terse = by_source["chat.jsonl:1"]
    assert (terse.system, terse.history, terse.instruction, terse.answer) == (
        "You are terse.", (), q1, a1)
    three = by_source["chat.jsonl:2"]
    assert three.system == "" and three.history == ((q0, a0), (q1, a1))
    assert (three.instruction, three.answer) == (q2, a2)
    shared = by_source["share.jsonl:1"]
    assert messages(shared) == [
        {"role": "system", "content": "Answer from the docs."},
        {"role": "user", "content": q2}, {"role": "assistant", "content": a2},
        {"role": "user", "content": q0}, {"role": "assistant", "content": a0}]


def test_malformed_conversations_are_quarantined_with_file_line_and_reason(tmp_path):
    (q0, a0), (q1, a1) = QA[:2]
    user, bot = (lambda t: {"role": "user", "content": t}), (lambda t: {"role": "assistant", "content": t})
    write_jsonl(tmp_path / "chat.jsonl", [
        {"messages": [user(q0), bot(a0)]},
        {"messages": [user(q1), {"role": "tool", "content": "{}"}, bot(a1)]},
        {"messages": [user(q0), user(q1), bot(a1)]},
        {"messages": [user(q0), bot(""), user(q1), bot(a1)]},
        {"messages": [user(q0), bot(a0), user(q1)]},
        {"messages": [bot(a0), user(q1), bot(a1)]},
        {"messages": [user(q0), {"role": "system", "content": "Now be rude."}, bot(a1)]},
        "{broken json",
        {"instruction": q1, "output": a1},  # another shape than the file's
    ])
    _, got = ingest(tmp_path)
    assert [p.source for p in got.pairs] == ["chat.jsonl:1"]
    assert [(d.record["path"], d.reason) for d in got.dropped] == [
        ("chat.jsonl:2", "unknown_role"), ("chat.jsonl:3", "turns_out_of_order"),
        ("chat.jsonl:4", "empty_turn"), ("chat.jsonl:5", "no_final_answer"),
        ("chat.jsonl:6", "turns_out_of_order"), ("chat.jsonl:7", "misplaced_system"),
        ("chat.jsonl:8", "bad_json"), ("chat.jsonl:9", "malformed_row")]
    assert all(d.detail.startswith(d.record["path"]) for d in got.dropped)
    assert json.loads(got.dropped[0].record["line"])["messages"][1]["role"] == "tool"  # kept whole


def test_unknown_shapes_and_a_forced_shape(tmp_path):
    write_jsonl(tmp_path / "odd.jsonl", [{"question": "q?", "reply": "a."}])
    write_jsonl(tmp_path / "docs.jsonl", [{"text": QA[0][1]}, {"instruction": "x", "output": "y"}])
    _, got = ingest(tmp_path)
    assert [d.source for d in got.documents] == ["docs.jsonl:1"]
    reasons = {(d.record["path"], d.reason) for d in got.dropped}
    assert reasons == {("odd.jsonl:1", "unknown_row_shape"), ("docs.jsonl:2", "no_text_field")}
    _, forced = ingest(tmp_path, data_format="alpaca")
    assert [p.source for p in forced.pairs] == ["docs.jsonl:2"]


PREFS = [
    # TRL, strings
    {"prompt": QA[0][0], "chosen": QA[0][1], "rejected": "It deletes the file."},
    # TRL, conversational
    {"prompt": [{"role": "user", "content": QA[1][0]}],
     "chosen": [{"role": "assistant", "content": QA[1][1]}],
     "rejected": [{"role": "assistant", "content": "It sorts a list."}]},
    # implicit prompt (Anthropic HH style): both conversations share the user turn
    {"chosen": [{"role": "user", "content": QA[2][0]}, {"role": "assistant", "content": QA[2][1]}],
     "rejected": [{"role": "user", "content": QA[2][0]}, {"role": "assistant", "content": "No idea."}]},
    # OpenAI DPO
    {"input": {"messages": [{"role": "user", "content": QA[3][0]}]},
     "preferred_output": [{"role": "assistant", "content": QA[3][1]}],
     "non_preferred_output": [{"role": "assistant", "content": "It truncates files."}]},
    # LLaMA-Factory ShareGPT preference
    {"conversations": [{"from": "human", "value": QA[4][0]}],
     "chosen": {"from": "gpt", "value": QA[4][1]}, "rejected": {"from": "gpt", "value": "It prints."}},
    {"prompt": QA[5][0], "chosen": QA[5][1], "rejected": QA[5][1]},  # no preference
]


def test_preference_rows_become_a_pair_and_an_unscored_preference(tmp_path):
    write_jsonl(tmp_path / "prefs.jsonl", PREFS)
    _, got = ingest(tmp_path)
    assert [p.source for p in got.pairs] == [f"prefs.jsonl:{n}" for n in range(1, 6)]
    assert [(p.instruction, p.answer) for p in got.pairs] == [q_a for q_a in QA[:5]]
    assert [p.rejected for p in got.preferences] == [
        "It deletes the file.", "It sorts a list.", "No idea.", "It truncates files.", "It prints."]
    assert [p.pair_id for p in got.preferences] == [p.pair_id for p in got.pairs]
    assert [(d.record["path"], d.reason) for d in got.dropped] == [("prefs.jsonl:6", "malformed_row")]


def test_imported_preferences_keep_their_label_unless_the_judge_clearly_prefers_rejected(tmp_path):
    write_jsonl(tmp_path / "prefs.jsonl", PREFS[:3])
    _, got = ingest(tmp_path)
    pairs = [replace(p, score=s) for p, s in zip(got.pairs, [4.0, 4.0, None])]
    # the judge scores the rejected sides (logprobs: P over 1..5): 2, then 5
    judge = FakeLLM(probs=[[0, 1, 0, 0, 0], [0, 0, 0, 0, 1]])
    generator = FakeLLM()
    prefs, dropped = build_preferences(pairs, generator, [judge], GenerateParams(), JudgeParams(),
                                       PreferenceParams(min_margin=0.5), {}, got.preferences)
    assert generator.calls == [("generate", 0)]  # no candidates sampled for labelled pairs
    assert [(p.chosen, p.rejected, p.chosen_score, p.rejected_score) for p in prefs] == [
        (QA[0][1], "It deletes the file.", 4.0, 2.0)]
    assert [(d.record["source"], d.reason) for d in dropped] == [
        ("prefs.jsonl:3", "no_clear_preference"), ("prefs.jsonl:2", "judge_prefers_rejected")]
    assert dropped[1].record["rejected"] == "It sorts a list."


def test_hugging_face_datasets_from_disk_parquet_and_csv_are_sources(tmp_path):
    import datasets

    rows = {"instruction": [q for q, _ in QA], "output": [a for _, a in QA], "input": [""] * len(QA)}
    saved = tmp_path / "saved"
    datasets.DatasetDict({"train": datasets.Dataset.from_dict(rows),
                          "test": datasets.Dataset.from_dict({"text": [QA[0][1]]})}).save_to_disk(saved)
    datasets.Dataset.from_dict(rows).to_parquet(tmp_path / "pairs.parquet")
    datasets.Dataset.from_dict({"body": [a for _, a in QA[:2]]}).to_csv(tmp_path / "docs.csv")
    raw = tmp_path / "raw"
    raw.mkdir()
    sources = [DatasetSource(path=str(saved)), DatasetSource(path=str(saved), split="test"),
               DatasetSource(path=str(tmp_path / "pairs.parquet")),
               DatasetSource(path=str(tmp_path / "docs.csv"), text_field="body")]
    files, got = ingest(raw, datasets=sources)
    assert [f.path for f in files] == [f"hf:{s.path}[{s.split}]" for s in sources]
    assert all(len(f.sha256) == 64 for f in files)
    assert files[0].sha256 == files[2].sha256  # the same rows hash the same, wherever they live
    assert len(got.pairs) == 2 * len(QA) and not got.dropped
    assert got.pairs[0].source == f"hf:{saved}[train]:0"
    assert [d.source for d in got.documents] == [f"hf:{saved}[test]:0", f"{files[3].path}:0",
                                                 f"{files[3].path}:1"]
    # a changed dataset is a new manifest entry: caching and lineage follow the content
    datasets.Dataset.from_dict({**rows, "output": ["changed"] * len(QA)}).to_parquet(
        tmp_path / "pairs.parquet")
    again, _ = scan_sources(raw, IngestParams(datasets=sources))
    assert again[2].sha256 != files[2].sha256 and again[0].sha256 == files[0].sha256


def test_a_hub_dataset_offline_fails_with_a_clear_message(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ValueError, match=r"hf:acme/support-tickets\[train\]: not a local folder "
                                         r"or file, and the Hub is off \(HF_HUB_OFFLINE=1\)"):
        scan_sources(tmp_path, IngestParams(datasets=[DatasetSource(path="acme/support-tickets")]))
    with pytest.raises(ValueError, match=r"no split 'validation'"):
        import datasets

        datasets.Dataset.from_dict({"text": ["x"]}).save_to_disk(tmp_path / "one")
        datasets.DatasetDict({"train": datasets.Dataset.from_dict({"text": ["x"]})}).save_to_disk(
            tmp_path / "dd")
        scan_sources(tmp_path, IngestParams(datasets=[DatasetSource(path=str(tmp_path / "dd"),
                                                                    split="validation")]))
