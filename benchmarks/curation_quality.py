"""Curation quality on a labelled dev set of real text (benchmarks/devset.py).

Prints, for the code on the path (and, with --before REF, for that commit's code in the
same run, on the same dev set):
- rule filters: per rule, drops and precision; per junk kind, recall; overall precision and
  junk recall, records/s;
- dedup: precision / recall / F1 over planted duplicates, recall per kind (exact, near,
  paraphrase), false merges (distinct pairs dropped as duplicates: hard negatives and
  others), records/s per stage;
- grounding (embedding check): kept share per faithfulness label;
- source checks (tuneline/curation/source_checks/, the whole chain the pipeline runs): per fault kind
  (planted on real text: commentary, scaffolding, truncated, looping, questions that need the
  chunk, answers to another question, answers from another chunk, one changed fact) the share
  dropped; per rule, drops and precision against faithful pairs (the dev set's own answers and
  paraphrases of them);
- with --labelled FILE (JSONL of pairs a real run generated, each read against its chunk and
  labelled `usable`: benchmarks/label_run.py writes them): the chain's precision and recall
  on the product's own output, and the judge's separation (AUROC) when it scored them;
- with --judge: the bundled judge (SmolLM2-135M, logprobs) on the faithfulness cases,
  kept share per label at the default min_score.

    python benchmarks/curation_quality.py --before 7c2d30b --judge
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import devset


def as_pairs(records):
    from tuneline.records import Pair

    return [Pair(r.pair_id, f"chunk-{r.pair_id}", "devset", r.instruction, r.answer) for r in records]


def eval_filters(records) -> dict:
    from tuneline.curation import filters
    from tuneline.params import FilterParams
    from tuneline.records import Pair

    pairs = as_pairs(records)
    label = {r.pair_id: r.label["junk"] for r in records}
    t = time.perf_counter()
    kept, dropped = filters.apply_filters(pairs, FilterParams())
    secs = time.perf_counter() - t
    # per rule: every rule on every record (not only the first that fires), to see each one's precision
    per_rule = {}
    for f in filters.FILTERS:
        fired = [p for p in pairs if f(p, FilterParams())]
        junk = sum(label[p.pair_id] is not None for p in fired)
        per_rule[f.__name__] = {"drops": len(fired), "precision": round(junk / len(fired), 3) if fired else None,
                                "good_dropped": len(fired) - junk}
    if "gopher_repetition" in FilterParams.model_fields:  # code from before it was opt-in
        opt_in = FilterParams(gopher_repetition=True)
        fired = [p for p in pairs if filters.gopher_repetition(p, opt_in)]
        junk = sum(label[p.pair_id] is not None for p in fired)
        per_rule["gopher_repetition (opt-in, on)"] = {
            "drops": len(fired), "precision": round(junk / len(fired), 3) if fired else None,
            "good_dropped": len(fired) - junk}
    dropped_ids = {d.record["pair_id"] for d in dropped}
    n_junk = sum(v is not None for v in label.values())
    by_kind = defaultdict(lambda: [0, 0])
    for pid, kind in label.items():
        if kind:
            by_kind[kind][1] += 1
            by_kind[kind][0] += pid in dropped_ids
    junk_dropped = sum(label[p] is not None for p in dropped_ids)
    good_dropped = [(d.reason, d.record["answer"][:90]) for d in dropped if label[d.record["pair_id"]] is None]
    # every real text the dev set draws on (answers and chunks), not only those sampled
    real = [Pair(f"s{i}", "c", "devset", devset.templates(src)[0].format(e=src.entity), text)
            for i, src in enumerate(devset.sources()) for text in (src.answer, src.chunk)]
    real_dropped = filters.apply_filters(real, FilterParams())[1]
    return {"records": len(pairs), "junk": n_junk, "drops": len(dropped_ids),
            "all_real_texts": len(real), "all_real_texts_dropped": dict(Counter(d.reason for d in real_dropped)),
            "precision": round(junk_dropped / max(1, len(dropped_ids)), 3),
            "junk_recall": round(junk_dropped / max(1, n_junk), 3),
            "good_dropped": len(good_dropped), "good_dropped_reasons": dict(Counter(r for r, _ in good_dropped)),
            "good_dropped_examples": good_dropped[:6],
            "recall_by_kind": {k: round(a / b, 3) for k, (a, b) in sorted(by_kind.items())},
            "per_rule": per_rule, "records_per_s": round(len(pairs) / secs)}


def eval_dedup(records, encode) -> dict:
    from tuneline.curation import dedup
    from tuneline.params import DedupParams

    pairs = as_pairs(records)
    group = {r.pair_id: r.label["group"] for r in records}
    kind = {r.pair_id: r.label["kind"] for r in records}
    params = DedupParams()
    embed_sig = inspect.signature(dedup.embedding_dedup).parameters
    stages = [("exact_dedup", dedup.exact_dedup), ("minhash_dedup", lambda ps: dedup.minhash_dedup(ps, params)),
              ("embedding_dedup", (lambda ps: dedup.embedding_dedup(ps, encode, params)) if "params" in embed_sig
               else (lambda ps: dedup.embedding_dedup(ps, encode, params.embedding_threshold)))]
    encode(["warm up"])
    current, drops, timing = pairs, [], {}
    for name, run in stages:
        t = time.perf_counter()
        current, dropped = run(current)
        timing[name] = round((time.perf_counter() - t), 3)
        drops += [(name, d) for d in dropped]
    # planted duplicates: every record of a group beyond the first is one duplicate to find
    sizes = Counter(group.values())
    planted = sum(n - 1 for n in sizes.values())
    planted_by_kind = Counter(kind[r.pair_id] for r in records if kind[r.pair_id] in ("exact", "near", "paraphrase"))
    correct, false_merges = 0, []
    dropped_ids = {d.record["pair_id"] for _, d in drops}
    for stage, d in drops:
        me = d.record["pair_id"]
        other = d.detail.split()[0].removeprefix("duplicate_of=")
        if group[me] == group[other]:
            correct += 1
        else:
            false_merges.append({"stage": stage, "kinds": [kind[me], kind[other]],
                                 "dropped": d.record["instruction"][:80],
                                 "kept": next(p.instruction for p in pairs if p.pair_id == other)[:80],
                                 "detail": d.detail})
    # a planted copy is found when it and its original are no longer both kept
    original = {r.label["group"]: r.pair_id for r in records if r.label["kind"] in ("original", "hard_negative")}
    found_by_kind = Counter(kind[r.pair_id] for r in records if kind[r.pair_id] in planted_by_kind
                            and (r.pair_id in dropped_ids or original[group[r.pair_id]] in dropped_ids))
    missed = [(kind[r.pair_id], r.instruction[:70], next(p.instruction for p in pairs if p.pair_id == original[group[r.pair_id]])[:70])
              for r in records if kind[r.pair_id] in planted_by_kind
              and r.pair_id not in dropped_ids and original[group[r.pair_id]] not in dropped_ids]
    precision = correct / max(1, len(drops))
    by_stage = Counter(s for s, _ in drops)
    wrong_by_stage = Counter(f["stage"] for f in false_merges)
    recall = correct / max(1, planted)
    return {"records": len(pairs), "planted_duplicates": planted, "drops": len(drops),
            "drops_by_stage": dict(by_stage),
            "precision_by_stage": {k: round(1 - wrong_by_stage[k] / n, 3) for k, n in by_stage.items()},
            "precision": round(precision, 3), "recall": round(recall, 3),
            "f1": round(2 * precision * recall / max(1e-9, precision + recall), 3),
            "recall_by_kind": {k: round(found_by_kind[k] / n, 3) for k, n in sorted(planted_by_kind.items())},
            "false_merges": len(false_merges),
            "false_merges_of_hard_negatives": sum("hard_negative" in f["kinds"] for f in false_merges),
            "false_merge_examples": false_merges[:5], "missed_examples": missed[:6],
            "seconds_by_stage": timing}


def grounding_corpus(records):
    """The corpus a run would have: every chunk the dev set draws on, each once, and the
    cases as pairs pointing at their own chunk in it."""
    from tuneline.records import Pair

    chunks, where = {}, {}
    for i, s in enumerate(devset.sources()):
        cid = where.setdefault(s.chunk, f"src-{i}")
        chunks[cid] = s.chunk
    pairs = []
    for r in records:
        cid = where.setdefault(r.chunk, f"case-{r.pair_id}")
        chunks[cid] = r.chunk
        pairs.append(Pair(r.pair_id, cid, "devset", r.instruction, r.answer))
    return pairs, chunks


def eval_grounding(records, encode) -> dict | None:
    try:
        from tuneline.curation import grounding
        from tuneline.params import GroundingParams
    except ImportError:  # code from before the check existed: everything is kept
        return None
    pairs, chunks = grounding_corpus(records)
    t = time.perf_counter()
    kept, _, _ = grounding.check_grounding(pairs, chunks, encode, GroundingParams())
    secs = time.perf_counter() - t
    kept_ids = {p.pair_id for p in kept}
    # the check's job: drop answers written for another chunk
    target = {r.pair_id for r in records if r.label["faithful"].startswith("other_chunk")}
    unfaithful = {r.pair_id for r in records if r.label["faithful"] != "faithful"}
    dropped = {r.pair_id for r in records} - kept_ids
    return {"kept_share_by_label": _kept_share(records, kept_ids),
            "precision": round(len(dropped & unfaithful) / max(1, len(dropped)), 3),
            "recall_other_chunk": round(len(dropped & target) / max(1, len(target)), 3),
            "recall_all_unfaithful": round(len(dropped & unfaithful) / max(1, len(unfaithful)), 3),
            "records_per_s": round(len(pairs) / secs)}


def source_check_cases(seed: int) -> tuple[list, dict, dict]:
    """Records with a label each: the dev set's faithfulness cases and planted faults, plus
    faithful pairs (the source's own answer, and a paraphrase of it) on 400 more sources;
    with the chunk map and each chunk's `group > entity` (its title > section)."""
    import random

    sets = devset.build(seed)
    recs = sets["faithfulness"] + sets["faults"]
    rng = random.Random(seed + 1)
    for i, s in enumerate(rng.sample(devset.sources(), 400)):
        q = devset.templates(s)[rng.randrange(len(devset.templates(s)))].format(e=s.entity)
        a, kind = (s.answer, "faithful") if i % 2 else (devset.paraphrase_answer(s.answer, rng),
                                                         "faithful_paraphrase")
        recs.append(devset.Record(f"good{i}", q, a, s.chunk, {"faithful": kind}))
    where_of = {x.chunk: f"{x.group} > {x.entity}" for x in devset.sources()}
    chunks = {r.pair_id: r.chunk for r in recs}
    return recs, chunks, {k: where_of.get(v, "") for k, v in chunks.items()}


def eval_source_checks(seed: int, encode) -> dict | None:
    try:
        from tuneline.curation import source_checks
    except ImportError:  # code from before the chain existed
        return None
    from tuneline.params import GroundingParams
    from tuneline.records import Pair

    recs, chunks, where = source_check_cases(seed)
    pairs = [Pair(r.pair_id, r.pair_id, "devset", r.instruction, r.answer) for r in recs]
    label = {r.pair_id: r.label["faithful"] for r in recs}
    t = time.perf_counter()
    kept, dropped, _ = source_checks.run_source_checks(pairs, chunks, encode, GroundingParams(), where)
    secs = time.perf_counter() - t
    good = {k for k, v in label.items() if v.startswith("faithful")}
    by_rule = defaultdict(lambda: [0, 0])  # drops, of faithful pairs
    fp_examples = []
    for d in dropped:
        pid = d.record["pair_id"]
        by_rule[d.reason][0] += 1
        if pid in good:
            by_rule[d.reason][1] += 1
            fp_examples.append((d.reason, d.detail[:100]))
    kept_ids = {p.pair_id for p in kept}
    n_good_dropped = sum(pid not in kept_ids for pid in good)
    return {"kept_share_by_label": _kept_share(recs, kept_ids),
            "per_rule": {r: {"drops": n, "precision": round(1 - g / n, 3)} for r, (n, g) in sorted(by_rule.items())},
            "precision": round(1 - n_good_dropped / max(1, len(dropped)), 3),
            "faithful_kept": round(1 - n_good_dropped / len(good), 3),
            "false_drop_examples": fp_examples[:8], "records_per_s": round(len(pairs) / secs)}


def _kept_share(records, kept_ids) -> dict:
    by = defaultdict(lambda: [0, 0])
    for r in records:
        by[r.label["faithful"]][1] += 1
        by[r.label["faithful"]][0] += r.pair_id in kept_ids
    return {k: f"{a}/{b} = {a / b:.2f}" for k, (a, b) in sorted(by.items())}


def eval_judge(records) -> dict:
    from tuneline.curation import judge
    from tuneline.llm import make_llm
    from tuneline.params import JudgeParams, LLMParams

    llm = make_llm(LLMParams(cache=False, batch_size=4))
    grounded = "source" in inspect.signature(judge.judge_chat).parameters
    items = [(r.instruction, r.answer, r.chunk) if grounded else (r.instruction, r.answer) for r in records]
    t = time.perf_counter()
    verdicts = judge.score(llm, items, JudgeParams(), desc="dev judge")
    secs = time.perf_counter() - t
    kept = {r.pair_id for r, (s, _) in zip(records, verdicts) if s is not None and s >= JudgeParams().min_score}
    mean = defaultdict(list)
    for r, (s, _) in zip(records, verdicts):
        if s is not None:
            mean[r.label["faithful"]].append(s)
    return {"grounded_prompt": grounded, "kept_share_by_label": _kept_share(records, kept),
            "mean_score_by_label": {k: round(sum(v) / len(v), 2) for k, v in sorted(mean.items())},
            "records_per_s": round(len(records) / secs, 2)}


def evaluate(with_judge: bool, seed: int) -> dict:
    from tuneline.curation.dedup import load_encoder

    sets = devset.build(seed)
    encode = load_encoder("bundled:all-minilm-l6-v2", 64)
    out = {"filters": eval_filters(sets["filters"]), "dedup": eval_dedup(sets["dedup"], encode),
           "grounding": eval_grounding(sets["faithfulness"], encode),
           "source_checks": eval_source_checks(seed, encode)}
    if with_judge:
        out["judge"] = eval_judge(sets["faithfulness"])
    return out


def run_at(ref: str, with_judge: bool, seed: int) -> dict:
    """This script, on the same dev set, with `ref`'s tuneline first on the path."""
    root = subprocess.run(["git", "rev-parse", "--show-toplevel"], capture_output=True, text=True,
                          check=True).stdout.strip()
    with tempfile.TemporaryDirectory() as tmp:
        tree = os.path.join(tmp, "tree")
        subprocess.run(["git", "-C", root, "worktree", "add", "--detach", tree, ref], check=True,
                       capture_output=True)
        try:
            env = dict(os.environ, PYTHONPATH=tree)
            cmd = [sys.executable, os.path.abspath(__file__), "--json", "--seed", str(seed)]
            proc = subprocess.run(cmd + (["--judge"] if with_judge else []), env=env, cwd=tmp,
                                  capture_output=True, text=True)
            if proc.returncode:
                raise SystemExit(f"evaluation at {ref} failed:\n{proc.stderr[-3000:]}")
            return json.loads(proc.stdout.strip().splitlines()[-1])
        finally:
            subprocess.run(["git", "-C", root, "worktree", "remove", "--force", tree], capture_output=True)


def show(name: str, res: dict) -> None:
    f, d, g = res["filters"], res["dedup"], res["grounding"]
    print(f"\n=== {name}")
    print(f"filters: precision {f['precision']}  junk recall {f['junk_recall']}  good answers dropped "
          f"{f['good_dropped']}/{f['records'] - f['junk']} {f['good_dropped_reasons']}  {f['records_per_s']} records/s")
    print("  recall by junk kind:", f["recall_by_kind"])
    print(f"  every real text of the dev set's sources ({f.get('all_real_texts')}), dropped:",
          f.get("all_real_texts_dropped"))
    for rule, r in f["per_rule"].items():
        print(f"  {rule:22} drops {r['drops']:4}  precision {r['precision']}  good dropped {r['good_dropped']}")
    for reason, text in f["good_dropped_examples"]:
        print(f"    good dropped by {reason}: {text}")
    print(f"dedup: F1 {d['f1']}  precision {d['precision']}  recall {d['recall']}  "
          f"({d['drops']} drops of {d['planted_duplicates']} planted)  by stage {d['drops_by_stage']}")
    print("  precision by stage:", d.get("precision_by_stage"))
    print("  recall by kind:", d["recall_by_kind"], " false merges:", d["false_merges"],
          f"(of hard negatives {d['false_merges_of_hard_negatives']})  seconds by stage {d['seconds_by_stage']}")
    for fm in d["false_merge_examples"]:
        print(f"    false merge [{fm['stage']}] {fm['dropped']!r} -> {fm['kept']!r} {fm['detail']}")
    for m in d["missed_examples"]:
        print(f"    missed {m[0]}: {m[1]!r} ~ {m[2]!r}")
    print("grounding check:", g if g else "(none: every answer kept)")
    sc = res.get("source_checks")
    if sc:
        print(f"source checks (whole chain): precision {sc['precision']}  faithful kept {sc['faithful_kept']}  "
              f"{sc['records_per_s']} records/s")
        for k, v in sc["kept_share_by_label"].items():
            print(f"  kept {k:22} {v}")
        for rule, r in sc["per_rule"].items():
            print(f"  {rule:26} drops {r['drops']:4}  precision {r['precision']}")
        for reason, detail in sc["false_drop_examples"]:
            print(f"    faithful dropped by {reason}: {detail}")
    else:
        print("source checks: (none)")
    if "judge" in res:
        print("judge:", res["judge"])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--before", help="git ref to measure side by side (e.g. the last commit before a change)")
    ap.add_argument("--judge", action="store_true", help="also run the bundled LLM judge (minutes on CPU)")
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    res = evaluate(args.judge, args.seed)
    if args.json:
        print(json.dumps(res))
        return
    sets = devset.build(args.seed)
    print("dev set:", {k: len(v) for k, v in sets.items()},
          "dedup kinds:", dict(Counter(r.label["kind"] for r in sets["dedup"])))
    if args.before:
        show(f"before ({args.before})", run_at(args.before, args.judge, args.seed))
    show("now", res)


if __name__ == "__main__":
    main()
