"""An example's history and a dataset's changes, read from the tables a dataset run stored.

Pure functions over a run's frames (`{output name: DataFrame}`, the names the steps give their
outputs): nothing is recomputed, so a history says what the run decided, with its reasons.
`tuneline.zenml_ext.trace` loads the frames from the store.
"""

from __future__ import annotations

import json
import re

import pandas as pd

# Each curation stage in order: the step, its kept output(s) and its rejected output. A pair
# passes a stage when it is among the kept, and stops at the first stage that rejects it.
STAGES = (
    ("generate", "generate_pairs", ("generated_pairs", "imported_pairs"), "generate_rejected"),
    ("filter", "filter_pairs", ("filtered_pairs",), "filter_rejected"),
    ("dedup", "dedup_pairs", ("unique_pairs",), "dedup_rejected"),
    ("grounding", "check_grounding", ("grounded_pairs",), "grounding_rejected"),
    ("judge", "judge_pairs", ("judged_pairs",), "judge_rejected"),
    ("split", "split_dataset", ("train_pairs", "test_pairs"), "decontaminate_rejected"),
)
# every frame a history reads
FRAMES = ("raw_files", "scan_rejected", "documents", "chunks", "ingest_rejected",
          "preferences", "preference_rejected", "train_preferences", "test_preferences") + tuple(
    name for _, _, kept, rejected in STAGES for name in (*kept, rejected))
SPLITS = ("train_pairs", "test_pairs")


def raw_path(source: str, paths: set[str]) -> str:
    """The raw file a record's source names: `file.jsonl:LINE` is the line of `file.jsonl`."""
    if source in paths:
        return source
    head, _, tail = source.rpartition(":")
    return head if head in paths and tail.isdigit() else source


def _rows(frame: pd.DataFrame | None, column: str, value: str) -> list[dict]:
    if frame is None or frame.empty or column not in frame:
        return []
    return frame[frame[column] == value].to_dict("records")


def _rejection(frame: pd.DataFrame | None, pair_id: str) -> dict | None:
    rows = _rows(frame, "record_id", pair_id)
    if not rows:
        return None
    row = rows[0]
    out = {"by": row["stage"], "reason": row["reason"], "detail": row["detail"]}
    dup = re.search(r"duplicate_of=(\S+)", row["detail"] or "")
    if dup:
        out["duplicate_of"] = dup.group(1)
        sims = re.findall(r"(\w+(?:jaccard|cosine))=([0-9.]+)", row["detail"])
        if sims:
            out["similarity"] = {name: float(v) for name, v in sims}
    return out


def _pair_record(frames: dict, pair_id: str) -> dict | None:
    for name in ("generated_pairs", "imported_pairs"):
        rows = _rows(frames.get(name), "pair_id", pair_id)
        if rows:
            return rows[0]
    for _, _, _, rejected in STAGES:  # dropped at generation: only the rejected table has it
        rows = _rows(frames.get(rejected), "record_id", pair_id)
        if rows:
            return json.loads(rows[0]["record"])
    return None


def find_examples(frames: dict, query: str) -> list[str]:
    """Pair ids the query names: an id (or its prefix of 6+ characters), else every pair whose
    instruction or answer contains the text (case and spacing ignored)."""
    tables = [frames.get(n) for n in ("generated_pairs", "imported_pairs")]
    tables = [t for t in tables if t is not None and not t.empty]
    if not tables:
        return []
    pairs = pd.concat(tables, ignore_index=True)
    ids = [i for i in pairs["pair_id"] if i == query or (len(query) >= 6 and i.startswith(query))]
    if ids:
        return list(dict.fromkeys(ids))
    needle = " ".join(query.lower().split())
    hay = (pairs["instruction"] + "\n" + pairs["answer"]).map(lambda t: " ".join(t.lower().split()))
    return list(dict.fromkeys(pairs.loc[hay.str.contains(needle, regex=False), "pair_id"]))


def chunk_span(doc_text: str, chunk_text: str) -> tuple[int, int] | None:
    """Where the chunk lies in its document's text: its first and last lines found in order
    (a chunk is rendered from the document's paragraphs, headings of merged sections added)."""
    lines = [ln for ln in chunk_text.splitlines() if ln.strip() and not ln.startswith("#")]
    if not lines:
        return None
    start = doc_text.find(lines[0])
    if start < 0:
        return None
    end = doc_text.find(lines[-1], start)
    return (start, end + len(lines[-1])) if end >= 0 else None


def example_history(frames: dict, pair_id: str, generation: dict | None = None) -> dict:
    """Everything the run recorded about one pair: raw file, document, chunk, generation, the
    verdict of each stage up to the one that dropped it, preferences, split side."""
    record = _pair_record(frames, pair_id)
    if record is None:
        raise LookupError(f"pair {pair_id} is not in this run")
    paths = set(frames["raw_files"]["path"]) if "raw_files" in frames else set()
    out: dict = {"pair_id": pair_id, "instruction": record.get("instruction"),
                 "answer": record.get("answer"), "source": record.get("source")}
    path = raw_path(record.get("source", ""), paths)
    raw = _rows(frames.get("raw_files"), "path", path)
    out["raw_file"] = raw[0] if raw else {"path": path, "in_manifest": False}
    chunk = _rows(frames.get("chunks"), "chunk_id", record.get("chunk_id") or "")
    if chunk:
        c = chunk[0]
        doc = _rows(frames.get("documents"), "doc_id", c["doc_id"])
        span = chunk_span(doc[0]["text"], c["text"]) if doc else None
        out["document"] = ({"doc_id": c["doc_id"], "source": doc[0]["source"],
                            "title": doc[0]["title"]} if doc else {"doc_id": c["doc_id"]})
        out["chunk"] = {"chunk_id": c["chunk_id"], "title": c["title"], "section": c["section"],
                        "span": list(span) if span else None, "text": c["text"]}
        out["generation"] = {"kind": "generated", **(generation or {})}
    else:
        out["generation"] = {"kind": "imported"}  # existing instruction data: no source chunk
    stages, outcome = [], None
    for stage, step, kept, rejected in STAGES:
        dropped = _rejection(frames.get(rejected), pair_id)
        if dropped:
            stages.append({"stage": stage, "step": step, "verdict": "dropped", **dropped})
            outcome = {"kept": False, "stage": stage, "reason": dropped["reason"]}
            break
        held = [name for name in kept if _rows(frames.get(name), "pair_id", pair_id)]
        if not held:
            stages.append({"stage": stage, "step": step, "verdict": "not reached"})
            break
        entry = {"stage": stage, "step": step, "verdict": "kept"}
        if stage == "judge":
            entry["score"] = _rows(frames.get("judged_pairs"), "pair_id", pair_id)[0]["score"]
        if stage == "split":
            entry["split"] = held[0].removesuffix("_pairs")
            outcome = {"kept": True, "split": entry["split"]}
        stages.append(entry)
    out["stages"] = stages
    out["outcome"] = outcome or {"kept": False, "stage": stages[-1]["stage"] if stages else None,
                                 "reason": "not reached"}
    prefs = _rows(frames.get("preferences"), "pair_id", pair_id)
    pref_drop = _rejection(frames.get("preference_rejected"), pair_id)
    out["preference"] = ({"chosen": prefs[0]["chosen"], "rejected": prefs[0]["rejected"],
                          "chosen_score": prefs[0]["chosen_score"],
                          "rejected_score": prefs[0]["rejected_score"]} if prefs
                         else {"dropped": pref_drop} if pref_drop else None)
    return out


def file_examples(frames: dict, path: str) -> dict:
    """Every pair a raw file gave in this run, with where each ended (kept in a split, or the
    stage and reason that dropped it)."""
    paths = set(frames["raw_files"]["path"]) if "raw_files" in frames else set()
    ids: list[str] = []
    for name in ("generated_pairs", "imported_pairs"):
        frame = frames.get(name)
        if frame is not None and not frame.empty:
            ids += [r["pair_id"] for r in frame.to_dict("records") if raw_path(r["source"], paths) == path]
    generate_drops = frames.get("generate_rejected")
    dropped_at_generation = 0
    if generate_drops is not None and not generate_drops.empty:
        for r in generate_drops.to_dict("records"):
            rec = json.loads(r["record"])
            if raw_path(rec.get("source", ""), paths) == path:
                dropped_at_generation += 1
    examples = []
    for pair_id in dict.fromkeys(ids):
        h = example_history(frames, pair_id)
        examples.append({"pair_id": pair_id, "instruction": h["instruction"], **h["outcome"]})
    raw = _rows(frames.get("raw_files"), "path", path)
    scan = _rows(frames.get("scan_rejected"), "record_id", path)
    return {"path": path, "raw_file": raw[0] if raw else None,
            "scan": ({"dropped": scan[0]["reason"], "detail": scan[0]["detail"]} if scan else None),
            "examples": examples, "generation_calls_dropped": dropped_at_generation}


def split_ids(frames: dict) -> dict[str, str]:
    """pair id -> the split holding it."""
    return {pid: name.removesuffix("_pairs") for name in SPLITS
            for pid in (frames[name]["pair_id"] if name in frames else [])}


def diff_datasets(old: dict, new: dict) -> dict:
    """What changed from one dataset run to another: pairs added, removed, changed (the same
    question from the same file with another answer or chunk) and moved between splits, each
    with its cause read from the two runs' records."""
    before, after = split_ids(old), split_ids(new)
    old_files = {r["path"]: r["sha256"] for r in old["raw_files"].to_dict("records")}
    new_files = {r["path"]: r["sha256"] for r in new["raw_files"].to_dict("records")}

    scan = new.get("scan_rejected")
    excluded = (set() if scan is None or scan.empty
                else set(scan.loc[scan["reason"] == "excluded", "record_id"]))

    def file_cause(path: str) -> str | None:
        if path not in old_files:
            return "new file"
        if path not in new_files:
            return "excluded file" if path in excluded else "deleted file"
        if old_files[path] != new_files[path]:
            return "changed file"
        return None

    def pair_source(frames: dict, pid: str) -> str:
        rec = _pair_record(frames, pid) or {}
        return raw_path(rec.get("source", ""), set(old_files) | set(new_files))

    def entries(pids, here: dict, there: dict, sides: dict, when: tuple[str, str]) -> list[dict]:
        """Pairs only one run holds (`here`), each with why the other (`there`) does not."""
        out = []
        for pid in pids:
            path = pair_source(here, pid)
            cause = file_cause(path)
            if cause is None:  # the file did not change: a verdict or the generation did
                fate = _fate(there, pid)
                cause = (f"verdict changed ({when[0]} dropped at {fate['stage']}: {fate['reason']})"
                         if fate else f"not generated {when[1]} (a generation setting or the "
                                      "model changed)")
            out.append({"pair_id": pid, "split": sides[pid], "source": path, "cause": cause,
                        "instruction": (_pair_record(here, pid) or {}).get("instruction")})
        return out

    added = entries(after.keys() - before.keys(), new, old, after, ("was", "before"))
    removed = entries(before.keys() - after.keys(), old, new, before, ("now", "now"))
    moved = []
    # a pair whose question comes back from the same file with another answer or chunk: changed
    by_question = {(r["source"], r["instruction"]): r for r in added}
    changed = []
    for r in list(removed):
        a = by_question.pop((r["source"], r["instruction"]), None)
        if a is not None:
            added.remove(a)
            removed.remove(r)
            changed.append({"pair_id": a["pair_id"], "was": r["pair_id"], "split": a["split"],
                            "source": a["source"], "cause": a["cause"],
                            "instruction": a["instruction"]})
    for pid in before.keys() & after.keys():
        if before[pid] != after[pid]:
            moved.append({"pair_id": pid, "from": before[pid], "to": after[pid]})
    files = {"added": sorted(new_files.keys() - old_files.keys()),
             "deleted": sorted(old_files.keys() - new_files.keys() - excluded),
             "excluded": sorted(old_files.keys() - new_files.keys() & excluded),
             "changed": sorted(p for p in old_files.keys() & new_files.keys()
                               if old_files[p] != new_files[p])}
    key = lambda r: (r["source"], r["pair_id"])
    return {"added": sorted(added, key=key), "removed": sorted(removed, key=key),
            "changed": sorted(changed, key=key),
            "moved": sorted(moved, key=lambda r: r["pair_id"]), "files": files,
            "counts": {"added": len(added), "removed": len(removed), "changed": len(changed),
                       "moved": len(moved),
                       "train": _count(after, "train") - _count(before, "train"),
                       "test": _count(after, "test") - _count(before, "test")}}


def _count(sides: dict[str, str], side: str) -> int:
    return sum(1 for s in sides.values() if s == side)


def _fate(frames: dict, pair_id: str) -> dict | None:
    """The stage and reason that dropped the pair in this run, or None (not in the run)."""
    if _pair_record(frames, pair_id) is None:
        return None
    outcome = example_history(frames, pair_id)["outcome"]
    return None if outcome.get("kept") else outcome
