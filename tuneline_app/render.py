"""Text views: a run's summary, a model version's lineage and the list of versions.

Pure formatting over the dicts built in tuneline/zenml_ext (summary.run_summary,
lineage.model_lineage and registry.version_rows), so `--json` and the text show the same facts.
"""

from __future__ import annotations

from tuneline.curation.report import funnel_shares
from tuneline.ship.promotion import LABELS
from tuneline.text import fmt_number


def _hash(h: str | None) -> str:
    return (h or "-")[:12]


def _metrics(tuned: dict, base: dict) -> str:
    keys = [k for k in ("eval_loss", "judge_score", "instruction_following", "benchmarks")
            if k in tuned or k in base]
    return ", ".join(f"{k} {fmt_number(tuned.get(k))} (base {fmt_number(base.get(k))})" for k in keys)


def _ledger(name: str, led: dict) -> str:
    reasons = ", ".join(f"{r} {n}" for r, n in sorted(led.get("dropped_by_reason", {}).items(),
                                                         key=lambda x: -x[1]))
    return (f"{name}: {led['inputs']} in, {led['kept']} kept, {led['dropped']} dropped"
            + (f" ({reasons})" if reasons else ""))


def render_lineage(lin: dict) -> str:
    out = [f"model {lin['model']} version {lin['version']} [{lin['stage']}]",
           f"  base model   {lin['base_model']}",
           f"  metrics      {_metrics(lin['eval_metrics'], lin['base_eval_metrics'])}"]
    if lin["promotion"]:
        out.append(f"  promotion    {lin['promotion'].get('reason')}")
    if lin.get("hub"):
        out.append(f"  hub          {lin['hub'].get('commit_url')}")
    tr = lin["training_run"]
    out += ["", f"training run {tr.get('name')} ({tr.get('pipeline')})"]
    for stage, hp in lin["hyperparameters"].items():
        lora = hp.get("lora", {})
        out.append(f"  {stage:<9} lr {hp.get('learning_rate')}, epochs {hp.get('epochs')}, "
                   f"max_steps {hp.get('max_steps')}, batch {hp.get('batch_size')}, "
                   f"LoRA r={lora.get('r')} alpha={lora.get('alpha')}"
                   + (f", beta {hp['beta']}" if "beta" in hp else ""))
    out += ["", "dataset artifacts"]
    for name, d in sorted(lin["datasets"].items()):
        out.append(f"  {name:<18} version {d['version']:<4} {d['rows']:>6} records  "
                   f"sha256 {_hash(d['content_hash'])}")
    dr = lin["dataset_run"]
    out += ["", f"dataset run {dr['name']} ({dr['pipeline']}): its curation steps, producers first"]
    for s in lin["steps"]:
        where = ("" if s["computed_in"] == dr["name"]
                 else f", computed in {s['computed_in']}")
        out.append(f"  {s['step']:<18} {s['status']}{where}")
        # stages in the order they ran: each one's inputs are the previous one's kept
        for name, led in sorted(s["ledgers"].items(), key=lambda kv: -kv[1]["inputs"]):
            out.append(f"      {_ledger(name, led)}")
        outs = ", ".join(f"{n} v{a['version']} ({fmt_number(a['rows'])} rows, {_hash(a['content_hash'])})"
                         for n, a in s["outputs"].items() if not n.endswith("_rejected"))
        out.append(f"      -> {outs}")
    raw = lin["raw"]
    out += ["", f"raw files: {raw['dir']} ({len(raw['files'])} files)"]
    for f in raw["files"]:
        out.append(f"  {f['path']:<40} {f['size']:>10,} B  sha256 {_hash(f['sha256'])}")
    return "\n".join(out)


def render_versions(rows: list[dict]) -> str:
    if not rows:
        return "no model versions yet"
    header = (f"{'model':<24} {'ver':>4} {'stage':<11} {'created':<20} {'eval_loss':>10} "
              f"{'base':>8} {'judge':>7} {'general':>8}  decision")
    out = [header]
    for r in rows:
        m, b = r["metrics"], r["base_metrics"]
        out.append(f"{r['model']:<24} {r['version']:>4} {fmt_number(r['stage']):<11} {r['created']:<20} "
                   f"{fmt_number(m.get('eval_loss')):>10} {fmt_number(b.get('eval_loss')):>8} "
                   f"{fmt_number(m.get('judge_score')):>7} "
                   f"{fmt_number(m.get('instruction_following')):>8}  "
                   + ("[GENERAL ABILITY REGRESSED] " if r.get("general_regression") else "")
                   + f"{r['reason'] or '-'}"
                   + (f"  hub: {r['hub']}" if r["hub"] else ""))
        if r.get("gguf"):
            out.append(f"{'':<24} {'':>4} gguf: " + ", ".join(_quant(q) for q in r["gguf"]))
    return "\n".join(out)


def _quant(q: dict) -> str:
    if not q["verified"]:
        return f"{q['quant']} FAILED ({q['failures'][0]})"
    return (f"{q['quant']} verified ({q['bytes'] / 2**20:.0f} MiB, cross-entropy "
            f"{q['cross_entropy_increase']:+.1%})")


ROLES = {"must_improve": "must improve", "must_not_regress": "must not regress",
         "reported": "reported"}


def _evaluation(ev: dict, promo: dict | None) -> list[str]:
    """Each model's metrics; with a gate decision, each metric's gain over the incumbent with
    its interval, what happened to it and its role in the gate."""
    models = {label: m for label, m in ev.items() if isinstance(m, dict)}
    gated = (promo or {}).get("metrics") or {}
    tuned = models.get("tuned", {})
    head = (f"  evaluation   {fmt_number(tuned.get('examples'))} test pairs, "
            f"{fmt_number(tuned.get('general_prompts', 0))} general prompts")
    if not gated:
        return [head + "   " + "   ".join(
            f"{label} loss {fmt_number(m.get('eval_loss'))} judge {fmt_number(m.get('judge_score'))}"
            + (f" general {fmt_number(m['instruction_following'])}"
               if m.get("instruction_following") is not None else "")
            for label, m in models.items())]
    against = LABELS.get(promo["against"])
    out = [head + f"; gain of the candidate over {against}, "
                  f"{promo['confidence']:.0%} intervals (paired bootstrap)"]
    for metric, g in gated.items():
        values = "  ".join(f"{label} {fmt_number(m.get(metric))}" for label, m in models.items()
                           if m.get(metric) is not None)
        if not g.get("n"):
            out.append(f"    {metric:<22} {values}  not measured on both models")
            continue
        role = ROLES[g["role"]] + (f" (margin {g['margin']})" if g["role"] != "reported" else "")
        out.append(f"    {metric:<22} {values}  gain {g['gain']:+.4f} "
                   f"[{g['gain_interval'][0]:+.4f}, {g['gain_interval'][1]:+.4f}] "
                   f"n={g['n']}  {g['status']}; {role}")
    return out


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    m, s = divmod(round(seconds), 60)
    return f"{m}m{s:02d}s" if m else f"{s}s"


def render_summary(info: dict, log: str | None = None) -> str:
    """What a user wants to see when a run ends: what came out, how good, where it is, what
    to do next; or, for a failed run, which step failed, why, and where the full log is."""
    ok = info["status"] == "completed"
    out = [f"tuneline: {info['pipeline']} run {info['run']} {info['status']} in "
           f"{_duration(info.get('seconds'))}"]
    if not ok and info.get("failed_step"):
        out.append(f"  failed step  {info['failed_step']}: {info.get('failure') or 'see the log'}")
    if info.get("funnel"):
        out.append("  funnel       (share of the stage before; preferences and the split: of judged)")
        shares = funnel_shares([(label, n or 0) for label, n in info["funnel"]])
        for (label, n), share in zip(info["funnel"], shares):
            out.append(f"    {label:<18} {fmt_number(n):>6}  {share}".rstrip())
    diff = info.get("dataset_diff")
    if diff:
        c, f = diff["counts"], diff["files"]
        changed = ", ".join(f"{len(f[k])} {k}" for k in ("added", "changed", "deleted", "excluded")
                            if f.get(k))
        out.append(f"  data change  since {diff['from']}: {c['added']} pairs added, {c['removed']} "
                   f"removed, {c['changed']} changed, {c['moved']} moved (train {c['train']:+d}, "
                   f"test {c['test']:+d}); "
                   f"files: {changed or 'none changed'} (tuneline dataset diff {diff['from']} "
                   f"{info['run']})")
    if info.get("top_drops"):
        out.append("  top drops    " + ", ".join(f"{r} {n}" for r, n in info["top_drops"]))
    sep = info.get("judge_separation")
    if sep and not sep.get("filtering", True):
        out.append(f"  judge        cannot tell a fitting answer from another question's (AUROC "
                   f"{fmt_number(sep.get('auroc'))} on {sep.get('probes')} probes): its scores are "
                   "recorded, not used to drop pairs; set judging.jury or an llm with a larger "
                   "model (an OpenAI-compatible endpoint) to filter with a judge")
    ev = info.get("eval")
    promo = info.get("promotion")
    if ev:
        out += _evaluation(ev, promo)
    if promo and promo.get("unchanged"):
        out.append(f"  promotion    none: {promo['reason']}")
    elif promo:
        out.append(f"  promotion    {'promoted to' if promo['promoted'] else 'kept in'} "
                   f"{promo['stage']}: {promo['reason']}")
    model = info.get("model")
    if model:
        out.append(f"  model        {model['name']} version {model['version']} "
                   f"[{model['stage'] or 'no stage'}]"
                   + (" (unchanged: no new version)" if model.get("unchanged") else ""))
    if info.get("gguf"):
        out.append("  gguf         " + ", ".join(_quant(q) for q in info["gguf"]))
    if info.get("hub"):
        out.append(f"  hub          {info['hub']}")
    if info.get("report"):
        out.append(f"  report       {info['report']} (also on the run's page in the dashboard)")
    if info.get("answers"):
        out.append(f"  answers      {info['answers']} (every model's answers side by side; also "
                   "on the evaluate step's page)")
    if log:
        out.append(f"  full log     {log}")
    if ok:
        trained = info.get("eval") is not None
        out.append("  next         " + "; ".join(filter(None, [
            f"tuneline lineage {model['name']}:{model['version']}" if model and trained else None,
            "tuneline models" if trained else None,
            f"tuneline serve-model {model['name']}:{model['version']}"
            if model and any(q["verified"] for q in info.get("gguf") or []) else None,
            None if trained else
            f"tuneline run configs/training.yaml --set parameters.dataset_run={info['run']}",
            "tuneline serve up (the dashboard)"])))
    return "\n".join(out)


def _short(text: str | None, width: int = 100) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= width else text[:width - 1] + "…"


def _stage(s: dict) -> str:
    if s["verdict"] == "kept":
        extra = (f" (score {fmt_number(s['score'])})" if s.get("score") is not None else "") + (
            f" ({s['split']})" if s.get("split") else "")
        return f"{s['stage']} kept{extra}"
    if s["verdict"] == "dropped":
        why = f"{s['reason']}" + (f", duplicate of {s['duplicate_of']}" if s.get("duplicate_of") else "")
        sims = ", ".join(f"{k} {v}" for k, v in (s.get("similarity") or {}).items())
        by = f" ({s['by']})" if s.get("by") and s["by"] != s["stage"] else ""
        return f"{s['stage']}{by} DROPPED: {why}" + (f" ({sims})" if sims else "") + (
            f" — {_short(s['detail'], 160)}" if s.get("detail") and not s.get("duplicate_of") else "")
    return f"{s['stage']} {s['verdict']}"


def _holders(out: list[str], datasets: list[dict], models: list[dict]) -> None:
    out.append("  datasets     " + ("; ".join(f"{d['run']} {d['split']} ({d['artifact']} v{d['version']})"
                                              for d in datasets) or "none"))
    out.append("  models       " + ("; ".join(
        f"{m['model']}:{m['version']} [{m['stage'] or 'no stage'}] "
        + ("trained on it" if m["trained_on_it"] else "evaluated on it") for m in models) or "none"))


def render_trace(tr: dict) -> str:
    """`tuneline trace QUERY`: each matching pair's history."""
    out = [f"{tr['matches']} pair(s) match {tr['query']!r} in run {tr['run']}"
           + (f" (showing {len(tr['examples'])})" if tr["matches"] > len(tr["examples"]) else "")]
    for h in tr["examples"]:
        oc = h["outcome"]
        fate = (f"kept, {oc['split']} split" if oc.get("kept")
                else f"dropped at {oc['stage']}: {oc['reason']}")
        raw = h["raw_file"]
        out += ["", f"pair {h['pair_id']}: {fate}",
                f"  question     {_short(h['instruction'])}",
                f"  answer       {_short(h['answer'])}",
                f"  raw file     {raw['path']}" + (f"  sha256 {_hash(raw.get('sha256'))}  {raw.get('size')} bytes"
                                                    if raw.get("sha256") else "  (not in the manifest)")]
        if h.get("chunk"):
            c, d = h["chunk"], h.get("document", {})
            span = f"chars {c['span'][0]}-{c['span'][1]}" if c.get("span") else "span not found"
            out.append(f"  document     {d.get('doc_id')} {d.get('title') or ''}".rstrip())
            out.append(f"  chunk        {c['chunk_id']} section {c['section'] or '(top)'!r}, {span}")
            g = h["generation"]
            out.append(f"  generated    by {g.get('model')} ({g.get('backend')}) in {g.get('run')}")
        else:
            out.append("  imported     existing instruction data (no source chunk)")
        out.append("  stages       " + "; ".join(_stage(s) for s in h["stages"]))
        p = h.get("preference")
        if p and "chosen" in p:
            out.append(f"  preference   chosen {fmt_number(p['chosen_score'])} / rejected "
                       f"{fmt_number(p['rejected_score'])}: {_short(p['rejected'], 60)}")
        elif p:
            out.append(f"  preference   none: {p['dropped']['reason']}")
        _holders(out, h["datasets"], h["models"])
    return "\n".join(out)


def render_file_trace(tr: dict) -> str:
    """`tuneline trace --file PATH`: what a raw file gave, and who learned from it."""
    raw = tr.get("raw_file") or {}
    kept = [e for e in tr["examples"] if e.get("kept")]
    out = [f"file {tr['path']} in run {tr['run']}"
           + (f": sha256 {_hash(raw.get('sha256'))}, {raw.get('size')} bytes" if raw else ""),
           f"  in the latest dataset run ({tr['latest_run']}): "
           + ("yes" if tr["in_latest_run"] else "no (deleted, excluded or renamed)")]
    if tr.get("scan"):
        out.append(f"  scan         dropped: {tr['scan']['dropped']} ({tr['scan']['detail']})")
    out.append(f"  examples     {len(tr['examples'])} generated or imported, {len(kept)} kept "
               f"({sum(e.get('split') == 'train' for e in kept)} train, "
               f"{sum(e.get('split') == 'test' for e in kept)} test); "
               f"{tr['generation_calls_dropped']} generation replies dropped")
    for e in tr["examples"]:
        fate = e["split"] if e.get("kept") else f"dropped at {e['stage']}: {e['reason']}"
        out.append(f"    {e['pair_id']}  {fate:<40} {_short(e['instruction'], 70)}")
    _holders(out, tr["datasets"], tr["models"])
    return "\n".join(out)


def render_diff(d: dict) -> str:
    """`tuneline dataset diff A B`."""
    c = d["counts"]
    out = [f"dataset {d['from']} -> {d['to']}: {c['added']} added, {c['removed']} removed, "
           f"{c['changed']} changed, {c['moved']} moved between splits (train {c['train']:+d}, "
           f"test {c['test']:+d})"]
    files = d["files"]
    for kind in ("added", "changed", "deleted", "excluded"):
        if files[kind]:
            out.append(f"  files {kind:<8} " + ", ".join(files[kind]))
    for title, mark, rows in (("added", "+", d["added"]), ("removed", "-", d["removed"]),
                              ("changed", "~", d["changed"])):
        if rows:
            out.append(f"  {title}:")
            for r in rows:
                was = f" (was {r['was']})" if r.get("was") else ""
                out.append(f"    {mark} {r['pair_id']}{was} {r['split']:<5} "
                           f"{r['source']}: {r['cause']} | {_short(r['instruction'], 60)}")
    for r in d["moved"]:
        out.append(f"  moved  {r['pair_id']} {r['from']} -> {r['to']}")
    return "\n".join(out)
