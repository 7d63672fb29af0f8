"""Answers side by side: every evaluated model's answer to each test prompt and general prompt,
with its scores, ordered by how much the candidate's differs from the incumbent's. Static HTML
(no scripts: the dashboard shows it in a sandbox), pre-sorted."""

from __future__ import annotations

import html
import math
from collections import defaultdict

from tuneline.text import number_or_none

ORDER = ("base", "tuned", "production")
NAMES = {"base": "base model", "tuned": "candidate (this run)", "production": "production"}

_STYLE = """
body{font-family:system-ui,sans-serif;margin:1.2em;color:#222}
table{border-collapse:collapse;width:100%;margin-bottom:2em}
th,td{border:1px solid #ccc;padding:.4em;vertical-align:top;text-align:left;font-size:13px}
th{background:#f3f3f3} td.q{width:18%} td.ref{background:#fafafa}
pre{white-space:pre-wrap;margin:0;font-family:inherit}
.s{color:#555;font-size:12px;display:block;margin-top:.3em}
.up{color:#0a7a0a}.down{color:#b00020}
"""


def _per_token(row: dict) -> float | None:
    tokens = row.get("tokens")
    if tokens is None or (isinstance(tokens, float) and math.isnan(tokens)) or not tokens:
        return None
    return row["loss_sum"] / tokens


def _test_change(by_model: dict, incumbent: str) -> float:
    """How far the candidate's answer moved: per-token loss change, then judge score change."""
    c, i = by_model.get("tuned"), by_model.get(incumbent)
    if not c or not i:
        return 0.0
    lc, li = _per_token(c), _per_token(i)
    jc, ji = number_or_none(c.get("judge_score")), number_or_none(i.get("judge_score"))
    return abs((lc or 0) - (li or 0)) + (abs(jc - ji) if jc is not None and ji is not None else 0)


def _general_change(by_model: dict, incumbent: str) -> float:
    c, i = by_model.get("tuned"), by_model.get(incumbent)
    if not c or not i:
        return 0.0
    return abs(c["followed"] / c["instructions"] - i["followed"] / i["instructions"])


def _benchmark_change(by_model: dict, incumbent: str) -> float:
    c, i = by_model.get("tuned"), by_model.get(incumbent)
    return abs(c["score"] - i["score"]) if c and i else 0.0


def _grouped(rows: list[dict], suite: str) -> dict[str, dict[str, dict]]:
    out: dict[str, dict[str, dict]] = defaultdict(dict)
    for r in rows:
        if r.get("suite") == suite:
            out[str(r["item_id"])][r["model"]] = r
    return out


def ordered(rows: list[dict], suite: str) -> list[tuple[str, dict[str, dict], float]]:
    """(item id, model -> row, change) for one suite, largest change first (ties by id)."""
    groups = _grouped(rows, suite)
    models = {m for g in groups.values() for m in g}
    incumbent = "production" if "production" in models else "base"
    change = {"test": _test_change, "general": _general_change,
              "benchmark": _benchmark_change}[suite]
    items = [(k, g, round(change(g, incumbent), 4)) for k, g in groups.items()]
    return sorted(items, key=lambda t: (-t[2], t[0]))


def _cell(row: dict | None, suite: str) -> str:
    if row is None:
        return "<td>-</td>"
    text = f"<pre>{html.escape(str(row.get('answer') or ''))}</pre>"
    if suite == "test":
        loss, judge = _per_token(row), number_or_none(row.get("judge_score"))
        scores = (f"loss/token {loss:.3f}" if loss is not None else "loss -") + (
            f" · judge {judge:.2f}" if judge is not None else " · judge -")
    elif suite == "benchmark":
        scores = f"score {row['score']:g}"
    else:
        scores = f"followed {row['followed']}/{row['instructions']}" + (
            f" · missed {html.escape(row['missed'])}" if row.get("missed") else "")
    return f"<td>{text}<span class=s>{scores}</span></td>"


def render(rows: list[dict], metrics: dict) -> str:
    """The page: a header with each model's metrics, then one table per suite."""
    models = [m for m in ORDER if any(r["model"] == m for r in rows)]
    head = "".join(f"<th>{NAMES[m]}</th>" for m in models)
    parts = [f"<!doctype html><meta charset=utf-8><title>evaluation</title><style>{_STYLE}</style>",
             "<h2>Evaluation: answers side by side</h2>",
             "<p>Each row is one prompt every model answered; rows are ordered by how much the "
             "candidate's answer differs from the incumbent's (production when there is one, "
             "else the base model) in its scores.</p><table><tr><th>model</th>"
             + "".join(f"<th>{k}</th>" for k in ("eval_loss", "judge_score",
                                                  "instruction_following", "benchmarks",
                                                  "examples", "general_prompts")) + "</tr>"]
    for m in models:
        row = metrics.get(m, {})
        parts.append(f"<tr><td>{NAMES[m]}</td>" + "".join(
            f"<td>{html.escape(str(row.get(k, '-')))}</td>"
            for k in ("eval_loss", "judge_score", "instruction_following", "benchmarks",
                      "examples", "general_prompts")) + "</tr>")
    parts.append("</table>")
    for suite, title in (("test", "Test split: the held-out pairs"),
                         ("general", "General prompts: out-of-domain, verifiable constraints"),
                         ("benchmark", "Benchmarks (lm-evaluation-harness)")):
        items = ordered(rows, suite)
        if not items:
            continue
        extra = "<th>reference answer</th>" if suite != "general" else ""
        parts.append(f"<h3>{title} ({len(items)})</h3><table><tr><th>prompt</th>{extra}{head}"
                     "<th>change</th></tr>")
        for key, by_model, change in items:
            first = next(iter(by_model.values()))
            ref = (f"<td class=ref><pre>{html.escape(str(first.get('reference') or ''))}</pre></td>"
                   if suite != "general" else "")
            parts.append(f"<tr id='{html.escape(suite)}-{html.escape(key)}'><td class=q><pre>"
                         f"{html.escape(str(first['instruction']))}</pre></td>{ref}"
                         + "".join(_cell(by_model.get(m), suite) for m in models)
                         + f"<td>{change:.3f}</td></tr>")
        parts.append("</table>")
    return "\n".join(parts)
