"""Read a real run's pairs against their chunks: export them for labelling, then score labels.

The first number of curation work is the share of a real run's kept pairs that a person,
reading each against its chunk, would keep. This script takes a completed dataset (or
end-to-end) run from the ZenML store and writes every generated pair with its chunk, where
it comes from, and what the run decided (kept, or the stage and reason that dropped it, and
the judge's score):

    python benchmarks/label_run.py export RUN_NAME_OR_ID OUT.jsonl [--kept-only]

A person then reads each record and adds `"usable": true|false` and, when false, `"faults"`
(a list of: invented, garbled, off_question, needs_context, scaffolding, commentary,
truncated). The rubric (issue #36): the question stands alone; the answer addresses what was
asked; every claim in the answer is in the chunk (or plain general knowledge consistent with
it); no prompt scaffolding, commentary, truncation or loops; a pasted passage that does not
answer the question is not usable. Then:

    python benchmarks/label_run.py score LABELLED.jsonl [...]

prints per file: usable share of the kept pairs, the checks' precision (dropped pairs that
were unusable) and recall (unusable pairs dropped) per stage, and the judge's separation
(AUROC of its score for usable vs unusable pairs) where it scored them.

    python benchmarks/label_run.py recheck LABELLED.jsonl [...]

runs today's rule checks (`source_checks.first_fault`, the chain's rules before relevance)
on the labelled pairs each run kept, against their labels: the usable share of what the
rules would still keep, and every usable pair a rule would now drop (its false positives),
so a new rule is measured on pairs read before it was written.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter, defaultdict

os.environ.setdefault("ZENML_ANALYTICS_OPT_IN", "false")

CURATION = [("filter_pairs", "filter_rejected"), ("dedup_pairs", "dedup_rejected"),
            ("check_grounding", "grounding_rejected"), ("judge_pairs", "judge_rejected"),
            ("split_dataset", "decontaminate_rejected")]


def _frame(step, name):
    if step is None or name not in step.outputs:
        return None
    return step.outputs[name][0].load()


def export(run_ref: str, out: str, kept_only: bool = False) -> int:
    from zenml.client import Client

    run = Client().get_pipeline_run(run_ref)
    steps = run.steps
    chunks = {r["chunk_id"]: r for r in _frame(steps["ingest_documents"], "chunks").to_dict("records")}
    generated = _frame(steps["generate_pairs"], "generated_pairs").to_dict("records")
    verdict: dict[str, dict] = {}
    for step_name, output in CURATION:
        frame = _frame(steps.get(step_name), output)
        if frame is None:
            continue
        for row in frame.to_dict("records"):
            rec = row.get("record") or {}
            if isinstance(rec, str):
                rec = json.loads(rec)
            pid = rec.get("pair_id")
            if pid and pid not in verdict:
                verdict[pid] = {"stage": row["stage"], "reason": row["reason"], "detail": row["detail"],
                                "score": rec.get("score")}
    scores = {}
    for name in ("train_pairs", "test_pairs"):
        frame = _frame(steps.get("split_dataset"), name)
        if frame is not None:
            for row in frame.to_dict("records"):
                scores[row["pair_id"]] = {"split": name.split("_")[0], "score": row.get("score")}
    # a conversation cut short by a check is kept under a new id: its head, from the split
    known = {p["pair_id"] for p in generated}
    for name in ("train_pairs", "test_pairs"):
        frame = _frame(steps.get("split_dataset"), name)
        if frame is not None:
            generated += [r for r in frame.to_dict("records")
                          if r["pair_id"] not in known and r.get("chunk_id")]
    judged = _frame(steps.get("judge_pairs"), "judged_pairs")
    judged_scores = {} if judged is None else {r["pair_id"]: r.get("score") for r in judged.to_dict("records")}
    n = 0
    with open(out, "w", encoding="utf-8") as f:
        for p in generated:
            c = chunks.get(p["chunk_id"], {})
            kept = p["pair_id"] in scores
            if kept_only and not kept:
                continue
            v = verdict.get(p["pair_id"], {})
            score = (scores.get(p["pair_id"]) or {}).get("score") or v.get("score") or judged_scores.get(p["pair_id"])
            f.write(json.dumps({
                "run": run.name, "pair_id": p["pair_id"], "kept": kept,
                "split": (scores.get(p["pair_id"]) or {}).get("split"),
                "dropped_at": v.get("stage"), "reason": v.get("reason"), "detail": v.get("detail"),
                "judge_score": score, "where": " > ".join(x for x in (c.get("title"), c.get("section")) if x),
                "source": p["source"],
                # a conversation's earlier (question, answer) turns; the last ones follow
                "history": json.loads(p["history"]) if p.get("history") else [],
                "question": p["instruction"], "answer": p["answer"],
                "chunk": c.get("text", ""),
            }, ensure_ascii=False) + "\n")
            n += 1
    return n


def score(paths: list[str]) -> None:
    from tuneline.curation.judge import (
        auroc,  # usable vs unusable, the measure the judge's probe uses
    )

    for path in paths:
        rows = [json.loads(x) for x in open(path, encoding="utf-8") if x.strip()]
        rows = [r for r in rows if "usable" in r]
        kept = [r for r in rows if r["kept"]]
        usable_kept = sum(r["usable"] for r in kept)
        print(f"== {path}: {len(rows)} labelled pairs, {len(kept)} kept")
        if kept:
            print(f"  kept pairs usable: {usable_kept}/{len(kept)} = {usable_kept / len(kept):.2f}")
        faults = Counter(f for r in kept if not r["usable"] for f in r.get("faults", []))
        print("  faults among kept:", dict(faults))
        by_stage = defaultdict(lambda: [0, 0])
        for r in rows:
            if not r["kept"] and r["dropped_at"]:
                by_stage[f"{r['dropped_at']}:{r['reason']}"][0] += 1
                by_stage[f"{r['dropped_at']}:{r['reason']}"][1] += not r["usable"]
        for k, (n, bad) in sorted(by_stage.items()):
            print(f"  dropped by {k:40} {n:3}  precision {bad / n:.2f}")
        unusable = [r for r in rows if not r["usable"]]
        if unusable and any(not r["kept"] for r in rows):  # a kept-only export has no drops to count
            caught = sum(not r["kept"] for r in unusable)
            print(f"  recall (unusable pairs dropped): {caught}/{len(unusable)} = {caught / len(unusable):.2f}")
        scored = [r for r in rows if r.get("judge_score") is not None]
        a = auroc([r["judge_score"] for r in scored if r["usable"]],
                  [r["judge_score"] for r in scored if not r["usable"]])
        if a is not None:
            print(f"  judge separation on {len(scored)} scored pairs: AUROC {a:.2f}")


def recheck(paths: list[str]) -> None:
    from tuneline.curation.source_checks import Source, first_fault
    from tuneline.params import GroundingParams
    from tuneline.records import Pair

    params = GroundingParams()
    total = Counter()
    for path in paths:
        rows = [json.loads(x) for x in open(path, encoding="utf-8") if x.strip()]
        rows = [r for r in rows if "usable" in r and r["kept"] and r.get("chunk")]
        n = Counter()
        for r in rows:
            pair = Pair(r["pair_id"], "c", r["source"], r["question"], r["answer"],
                        history=tuple(tuple(h) for h in r.get("history") or ()))
            fault = first_fault(pair, Source(r["chunk"], r.get("where", "")), params)
            n["usable" if r["usable"] else "unusable"] += 1
            if fault:
                n["dropped_usable" if r["usable"] else "dropped_unusable"] += 1
                if r["usable"]:
                    print(f"  FALSE POSITIVE {fault[0]}: {r['question']!r} ({fault[1]})")
        still = n["usable"] + n["unusable"] - n["dropped_usable"] - n["dropped_unusable"]
        good = n["usable"] - n["dropped_usable"]
        print(f"== {path}: kept {n['usable'] + n['unusable']} ({n['usable']} usable) -> rules keep "
              f"{still} ({good} usable, {good / max(still, 1):.2f}); usable dropped "
              f"{n['dropped_usable']}, unusable dropped {n['dropped_unusable']}/{n['unusable']}")
        total.update(n)
    still = total["usable"] + total["unusable"] - total["dropped_usable"] - total["dropped_unusable"]
    print(f"all files: usable dropped {total['dropped_usable']}/{total['usable']}, unusable dropped "
          f"{total['dropped_unusable']}/{total['unusable']}, usable share of what stays "
          f"{(total['usable'] - total['dropped_usable']) / max(still, 1):.2f}")


def main() -> None:
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("export")
    e.add_argument("run")
    e.add_argument("out")
    e.add_argument("--kept-only", action="store_true")
    s = sub.add_parser("score")
    s.add_argument("files", nargs="+")
    r = sub.add_parser("recheck")
    r.add_argument("files", nargs="+")
    args = ap.parse_args()
    if args.cmd == "export":
        print(f"{export(args.run, args.out, args.kept_only)} pairs written to {args.out}", file=sys.stderr)
    elif args.cmd == "recheck":
        recheck(args.files)
    else:
        score(args.files)


if __name__ == "__main__":
    main()
