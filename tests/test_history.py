"""The reading of a run's tables behind `tuneline trace` and `tuneline dataset diff`, on tables
built the way the steps build them (the pipeline tests trace real runs: test_operations.py)."""

import pandas as pd
import pytest

from tuneline.curation import history
from tuneline.records import Chunk, Document, Pair, Preference, RawFile, drop, dropped_frame, to_frame

DOC = "# Guide\n\nLoRA trains low-rank adapters.\nThe base weights stay frozen.\n\nMore text."


def frames(files=(("guide.md", "a" * 64),), pairs=("p1", "p2", "p3", "p4"), test=("p2",),
           scan_rejected=()):
    raw = [RawFile(path, 10, sha) for path, sha in files]
    doc = Document("d1", "guide.md", DOC, "Guide", True)
    chunk = Chunk("c1", "d1", "guide.md", "LoRA trains low-rank adapters.\nThe base weights stay frozen.",
                  "Guide", "Guide > Intro")
    made = {pid: Pair(pid, "c1", "guide.md", f"What does {pid} say about LoRA?", f"Answer {pid}.")
            for pid in pairs}
    imported = Pair("imp", "", "data.jsonl:3", "What is DPO?", "Preference optimisation.")
    kept = [made[p] for p in pairs if p in ("p1", "p2")]
    judged = [Pair(p.pair_id, p.chunk_id, p.source, p.instruction, p.answer, 4.5) for p in kept]
    out = {
        "raw_files": to_frame(raw, RawFile),
        "scan_rejected": dropped_frame(scan_rejected),
        "documents": to_frame([doc], Document), "chunks": to_frame([chunk], Chunk),
        "generated_pairs": to_frame(made.values(), Pair), "imported_pairs": to_frame([imported], Pair),
        "generate_rejected": dropped_frame([drop("generate", "no_question_in_reply",
                                                 {"chunk_id": "c1", "source": "guide.md"})]),
        "filter_rejected": dropped_frame([drop("filter", "too_short", made[p], "3 words")
                                          for p in pairs if p == "p3"] +
                                         [drop("filter", "too_short", imported, "2 words")]),
        "filtered_pairs": to_frame([made[p] for p in pairs if p != "p3"], Pair),
        "unique_pairs": to_frame(kept, Pair),
        "dedup_rejected": dropped_frame([drop("minhash_dedup", "near_duplicate", made[p],
                                              "duplicate_of=p1 instruction_jaccard=0.910 "
                                              "answer_jaccard=0.850") for p in pairs if p == "p4"]),
        "grounded_pairs": to_frame(kept, Pair), "grounding_rejected": dropped_frame([]),
        "judged_pairs": to_frame(judged, Pair), "judge_rejected": dropped_frame([]),
        "preferences": to_frame([Preference("p1", "q", "good", "bad", 4.5, 2.0)], Preference),
        "train_pairs": to_frame([p for p in judged if p.pair_id not in test], Pair),
        "test_pairs": to_frame([p for p in judged if p.pair_id in test], Pair),
        "decontaminate_rejected": dropped_frame([]),
    }
    return out


def test_a_kept_pair_traces_to_its_file_chunk_span_every_stage_and_its_split():
    h = history.example_history(frames(), "p1", {"model": "bundled:smollm2-135m-instruct"})
    assert h["raw_file"] == {"path": "guide.md", "size": 10, "sha256": "a" * 64}
    assert h["chunk"]["section"] == "Guide > Intro"
    start, end = h["chunk"]["span"]
    assert DOC[start:end] == "LoRA trains low-rank adapters.\nThe base weights stay frozen."
    assert [(s["stage"], s["verdict"]) for s in h["stages"]] == [
        (stage, "kept") for stage in ("generate", "filter", "dedup", "grounding", "judge", "split")]
    assert h["stages"][4]["score"] == 4.5 and h["outcome"] == {"kept": True, "split": "train"}
    assert h["preference"]["chosen_score"] == 4.5
    assert h["generation"]["model"] == "bundled:smollm2-135m-instruct"


@pytest.mark.parametrize("pair_id, stage, reason", [("p3", "filter", "too_short"),
                                                     ("p4", "dedup", "near_duplicate")])
def test_a_dropped_pair_stops_at_the_stage_that_dropped_it_with_its_reason(pair_id, stage, reason):
    h = history.example_history(frames(), pair_id)
    assert h["stages"][-1]["verdict"] == "dropped" and h["stages"][-1]["stage"] == stage
    assert h["outcome"] == {"kept": False, "stage": stage, "reason": reason}
    if stage == "dedup":
        assert h["stages"][-1]["duplicate_of"] == "p1"
        assert h["stages"][-1]["similarity"] == {"instruction_jaccard": 0.91, "answer_jaccard": 0.85}


def test_an_imported_pair_names_its_line_of_the_file_and_has_no_chunk():
    f = frames(files=(("guide.md", "a" * 64), ("data.jsonl", "b" * 64)))
    h = history.example_history(f, "imp")
    assert h["raw_file"]["path"] == "data.jsonl" and "chunk" not in h
    assert h["generation"] == {"kind": "imported"} and h["outcome"]["stage"] == "filter"


def test_examples_are_found_by_id_prefix_or_by_text_ignoring_case_and_spacing():
    f = frames(pairs=("p1abcdef", "p2", "p3", "p4"))
    assert history.find_examples(f, "p1abcd") == ["p1abcdef"]
    assert history.find_examples(f, "what DOES  p2 say") == ["p2"]
    assert history.find_examples(f, "no such text") == []
    with pytest.raises(LookupError):
        history.example_history(f, "nope")


def test_a_files_examples_each_end_kept_or_dropped():
    got = history.file_examples(frames(), "guide.md")
    assert {(e["pair_id"], e.get("split") or e["stage"]) for e in got["examples"]} == {
        ("p1", "train"), ("p2", "test"), ("p3", "filter"), ("p4", "dedup")}
    assert got["generation_calls_dropped"] == 1


def test_diff_names_each_added_and_removed_pair_with_its_cause():
    old = frames(files=(("guide.md", "a" * 64), ("gone.md", "c" * 64), ("old.md", "d" * 64)))
    gone = Pair("g1", "", "gone.md", "What was in gone.md?", "Something.", 4.0)
    forgotten = Pair("o1", "", "old.md", "What was in old.md?", "Something else.", 4.0)
    old["train_pairs"] = pd.concat([old["train_pairs"], to_frame([gone, forgotten], Pair)])
    old["generated_pairs"] = pd.concat([old["generated_pairs"], to_frame([gone, forgotten], Pair)])
    new = frames(files=(("guide.md", "a" * 64), ("new.md", "e" * 64)),
                 scan_rejected=[drop("scan", "excluded", RawFile("old.md", 1, "d" * 64),
                                     "ingest.exclude 'old.md'")])
    added = Pair("n1", "", "new.md", "What is new?", "This.", 4.0)
    new["train_pairs"] = pd.concat([new["train_pairs"], to_frame([added], Pair)])
    new["generated_pairs"] = pd.concat([new["generated_pairs"], to_frame([added], Pair)])
    # the same question from guide.md with another answer: changed, not added and removed
    revised = Pair("p2-new", "c1", "guide.md", "What does p2 say about LoRA?", "A new answer.", 4.0)
    new["test_pairs"] = to_frame([revised], Pair)
    new["generated_pairs"] = pd.concat([new["generated_pairs"], to_frame([revised], Pair)])
    # p1 was trained on before and is dropped now by a changed verdict
    new["train_pairs"] = new["train_pairs"][new["train_pairs"]["pair_id"] != "p1"]
    new["judge_rejected"] = dropped_frame([drop("judge", "low_score", Pair(
        "p1", "c1", "guide.md", "q", "a"), "score 1.5")])
    d = history.diff_datasets(old, new)
    causes = {r["pair_id"]: r["cause"] for r in d["added"] + d["removed"]}
    assert causes == {"n1": "new file", "g1": "deleted file", "o1": "excluded file",
                      "p1": "verdict changed (now dropped at judge: low_score)"}
    assert d["files"] == {"added": ["new.md"], "deleted": ["gone.md"], "excluded": ["old.md"],
                          "changed": []}
    assert d["counts"]["train"] == -3 + 1 and d["counts"]["test"] == 0 and not d["moved"]
    assert [(c["pair_id"], c["was"], c["split"]) for c in d["changed"]] == [("p2-new", "p2", "test")]
    assert d["counts"]["changed"] == 1
