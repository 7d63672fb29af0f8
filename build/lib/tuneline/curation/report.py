"""A self-contained HTML data-quality report: funnel, drops by reason with examples, judge
score histogram and duplicate clusters. Plain HTML/CSS (no scripts) so the ZenML dashboard
renders it as an artifact visualization."""

from __future__ import annotations

import html
import json
import re
from collections import Counter

import pandas as pd

_CSS = """
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.6em}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ddd;padding:4px 8px;
text-align:left;vertical-align:top;font-size:.9em}th{background:#f3f3f3}
.bar{background:#4a7bd1;height:14px}.num{text-align:right}
.muted{color:#777}
"""


def _e(value) -> str:
    return html.escape(str(value))


def _bar_rows(rows: list[tuple[str, int]], total: int | None = None,
              shares: list[str] | None = None) -> str:
    """A bar per row; the share column is `shares` when given, else each row's share of
    `total`."""
    top = max([n for _, n in rows] + [1])
    out = []
    for k, (label, n) in enumerate(rows):
        share = shares[k] if shares is not None else (f"{n / total:.0%}" if total else "")
        out.append(f"<tr><td>{_e(label)}</td><td class=num>{n}</td><td class=num>{share}</td>"
                   f"<td><div class=bar style='width:{300 * n / top:.0f}px'></div></td></tr>")
    return "<table>" + "".join(out) + "</table>"


# (label, step, output) in pipeline order: how many records each stage left. The report step
# and the run summary (tuneline/zenml_ext/summary.py) both show this funnel.
FUNNEL = [
    ("raw files", "scan_raw", "raw_files"),
    ("documents", "ingest_documents", "documents"),
    ("chunks", "ingest_documents", "chunks"),
    ("generated pairs", "generate_pairs", "generated_pairs"),
    ("imported pairs", "ingest_documents", "imported_pairs"),
    ("after filters", "filter_pairs", "filtered_pairs"),
    ("after dedup", "dedup_pairs", "unique_pairs"),
    ("grounded", "check_grounding", "grounded_pairs"),
    ("judged", "judge_pairs", "judged_pairs"),
    ("preference pairs", "build_preferences", "preferences"),
    ("train pairs", "split_dataset", "train_pairs"),
    ("test pairs", "split_dataset", "test_pairs"),
]


def funnel_shares(funnel: list[tuple[str, int]]) -> list[str]:
    """Each stage as a share of the stage before it (what that stage kept); the preference
    pairs and the train/test sides as shares of the judged pairs they come from; imported
    pairs join the generated ones, so the filters' share is of both."""
    shares, prev = [], None
    for label, n in funnel:
        if label == "imported pairs":
            shares.append("")
            prev = (prev or 0) + n
            continue
        shares.append(f"{n / prev:.0%}" if prev else "")
        if prev is None or label not in ("preference pairs", "train pairs", "test pairs"):
            prev = n
    return shares


def curation_summary(funnel: list[tuple[str, int]], rejected: pd.DataFrame) -> dict:
    """The funnel and the drops per stage and reason, as the dataset card shows them."""
    dropped: dict[str, dict[str, int]] = {}
    for (stage, reason), n in rejected.groupby(["stage", "reason"], sort=False).size().items():
        dropped.setdefault(stage, {})[reason] = int(n)
    return {"funnel": [[label, int(n)] for label, n in funnel], "dropped": dropped}


def _source_file(source: str) -> str:
    return source.rsplit(":", 1)[0] if source.rsplit(":", 1)[-1].isdigit() else source


def per_source(chunks: pd.DataFrame, generated: pd.DataFrame, kept: pd.DataFrame,
               rejected: pd.DataFrame) -> list[dict]:
    """Per raw file: its chunks, pairs (generated, or imported), pairs kept in the dataset and drops by stage,
    sorted so that the files that yield least come first (which documents give nothing?)."""
    rows: dict[str, dict] = {}

    def row(src: str) -> dict:
        return rows.setdefault(_source_file(src), {"chunks": 0, "generated": 0, "kept": 0,
                                                   "dropped": Counter()})
    for src in chunks.source if len(chunks) else []:
        row(src)["chunks"] += 1
    for src in generated.source if len(generated) else []:
        row(src)["generated"] += 1
    for src in kept.source if len(kept) else []:
        row(src)["kept"] += 1
    for stage, record in zip(rejected.stage, rejected.record) if len(rejected) else []:
        rec = json.loads(record)
        src = rec.get("source") or rec.get("path")
        if src:
            row(str(src))["dropped"][stage] += 1
    out = [{"source": k, **v} for k, v in rows.items()]
    return sorted(out, key=lambda r: (r["kept"], -sum(r["dropped"].values()), r["source"]))


def _source_table(sources: list[dict]) -> str:
    if not sources:
        return "<p class=muted>No source files.</p>"
    body = "".join(
        f"<tr><td>{_e(r['source'])}</td><td class=num>{r['chunks']}</td>"
        f"<td class=num>{r['generated']}</td><td class=num>{r['kept']}</td>"
        f"<td>{_e(', '.join(f'{s} {n}' for s, n in r['dropped'].most_common()) or '-')}</td></tr>"
        for r in sources)
    return ("<table><tr><th>source file</th><th>chunks</th><th>pairs</th><th>kept</th>"
            "<th>dropped, by stage</th></tr>" + body + "</table>")


def _record_text(record_json: str) -> str:
    record = json.loads(record_json)
    if "instruction" in record:
        return f"Q: {record['instruction']}\nA: {str(record.get('answer', record.get('chosen', '')))[:300]}"
    return str(record.get("text") or record.get("line") or record.get("path") or record)[:300]


def histogram(scores: list[float], bins: int = 8) -> list[tuple[str, int]]:
    counts = Counter(min(bins - 1, int((s - 1) / 4 * bins)) for s in scores)
    return [(f"{1 + 4 * i / bins:.1f}–{1 + 4 * (i + 1) / bins:.1f}", counts.get(i, 0)) for i in range(bins)]


def duplicate_clusters(rejected: pd.DataFrame, kept_text: dict[str, str], limit: int) -> str:
    dups = rejected[rejected.detail.str.startswith("duplicate_of=", na=False)]
    if dups.empty:
        return "<p class=muted>No duplicates were found.</p>"
    groups = dups.assign(kept=dups.detail.map(lambda d: re.match(r"duplicate_of=(\S+)", d).group(1)))
    rows = []
    for kept_id, group in list(groups.groupby("kept", sort=False))[:limit]:
        members = "".join(f"<li>{_e(json.loads(r)['instruction'])} <span class=muted>"
                          f"({_e(reason)}, {_e(detail.split(' ', 1)[-1])})</span></li>"
                          for r, reason, detail in zip(group.record, group.reason, group.detail))
        rows.append(f"<tr><td>{_e(kept_text.get(kept_id, kept_id))}</td><td><ul>{members}</ul></td></tr>")
    return "<table><tr><th>kept</th><th>dropped as its duplicates</th></tr>" + "".join(rows) + "</table>"


def sample_with_chunks(kept: pd.DataFrame, rejected: pd.DataFrame, chunks: pd.DataFrame,
                       n: int = 12, seed: int = 0) -> str:
    """A seeded random sample of kept pairs, and one of dropped pairs with their reasons, each
    next to the chunk it came from: the first look at a dataset is at examples, read against
    their source, not at counts (the first rows per reason are not a sample)."""
    text = dict(zip(chunks.chunk_id, chunks.text)) if len(chunks) else {}

    def rows(records: list[dict], verdicts: list[str]) -> str:
        out = []
        for rec, verdict in zip(records, verdicts):
            chunk = text.get(rec.get("chunk_id", ""), "(imported: no source chunk)")
            score = rec.get("score")
            score = f"<br><span class=muted>judge {float(score):.2f}</span>" if score == score and score is not None else ""
            out.append(f"<tr><td><b>Q:</b> {_e(rec.get('instruction', ''))}<br><b>A:</b> "
                       f"{_e(str(rec.get('answer', ''))[:800])}{score}</td>"
                       f"<td>{_e(verdict)}</td><td><pre>{_e(chunk[:1500])}</pre></td></tr>")
        return "".join(out)

    head = "<table><tr><th>pair</th><th>verdict</th><th>its chunk</th></tr>"
    k = kept.sample(min(n, len(kept)), random_state=seed).to_dict("records") if len(kept) else []
    pair_rows = rejected[rejected.record.str.contains('"instruction"', na=False)] if len(rejected) else rejected
    d = pair_rows.sample(min(n, len(pair_rows)), random_state=seed) if len(pair_rows) else pair_rows
    dropped = [json.loads(r) for r in d.record] if len(d) else []
    why = [f"{st}: {re_}\n{de}" for st, re_, de in zip(d.stage, d.reason, d.detail)] if len(d) else []
    return (f"<h3>Kept ({len(k)} of {len(kept)}, random)</h3>" + head + rows(k, ["kept"] * len(k))
            + "</table>" + f"<h3>Dropped ({len(dropped)} of {len(pair_rows)}, random)</h3>" + head
            + rows(dropped, why) + "</table>")


def render(funnel: list[tuple[str, int]], rejected: pd.DataFrame, scores: list[float],
           kept_text: dict[str, str], sources: list[dict] | None = None,
           examples_per_reason: int = 3, clusters: int = 15, sample: str = "") -> str:
    """The report; `rejected` is every stage's dropped records (stage, reason, detail, record);
    `sources` the per-file rows of `per_source`."""
    by_reason = rejected.groupby(["stage", "reason"], sort=False).size()
    reason_rows = [(f"{stage}: {reason}", int(n)) for (stage, reason), n in by_reason.items()]
    examples = []
    for (stage, reason), group in rejected.groupby(["stage", "reason"], sort=False):
        for _, row in group.head(examples_per_reason).iterrows():
            examples.append(f"<tr><td>{_e(stage)}</td><td>{_e(reason)}</td>"
                            f"<td><pre>{_e(_record_text(row.record))}</pre></td><td>{_e(row.detail)}</td></tr>")
    return f"""<!doctype html><html><head><meta charset=utf-8><title>tuneline data quality</title>
<style>{_CSS}</style></head><body>
<h1>Data-quality report</h1>
<h2>Read a sample against its source</h2>{sample or "<p class=muted>No sample.</p>"}
<h2>Funnel</h2><p class=muted>Each stage's share of the stage before it; preference pairs and
the train/test split as shares of the judged pairs.</p>{_bar_rows(funnel, shares=funnel_shares(funnel))}
<h2>Per source file (fewest kept pairs first)</h2>{_source_table(sources or [])}
<h2>Dropped, by stage and reason ({len(rejected)} records)</h2>{_bar_rows(reason_rows, len(rejected))}
<h2>Judge scores of kept pairs (n={len(scores)}, mean {sum(scores) / max(1, len(scores)):.2f})</h2>
{_bar_rows(histogram(scores), len(scores))}
<h2>Examples per drop reason</h2>
<table><tr><th>stage</th><th>reason</th><th>record</th><th>detail</th></tr>{''.join(examples)}</table>
<h2>Duplicate clusters</h2>{duplicate_clusters(rejected, kept_text, clusters)}
</body></html>"""
