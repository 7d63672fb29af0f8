"""Document readers measured on real documents: the READMEs that installed packages ship (their
PyPI long descriptions in reStructuredText), rendered to HTML by docutils, written to PDF by
fpdf2 and to DOCX by python-docx.

Per format: content recall (share of the README's paragraphs of 8+ words found in the
extracted text), heading recall (share of its section titles that are chunk section paths),
documents/s. For HTML, the page is wrapped in a site's chrome with planted boilerplate
(navigation, header, cookie banner, sidebar, footer, script): boilerplate leak is the share of
those strings found in the text, against an all-text baseline (stdlib HTMLParser) in the same run.

With --generate N: questions written by the bundled SmolLM2-135M for N HTML chunks, with and
without the `Source: <title> > <section>` line; how many parse as a question and how many name
the document's subject (the package).

    python benchmarks/ingest_formats.py [--max-docs 60] [--generate 48] [--repeats 3]
"""

from __future__ import annotations

import argparse
import html as htmllib
import importlib.metadata
import re
import statistics
import sys
import time
from html.parser import HTMLParser
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1]))

from tests.docfiles import docutils_html, make_docx, make_pdf  # noqa: E402
from tuneline.documents.ingest import chunk_documents  # noqa: E402
from tuneline.documents.readers import Unreadable, read_docx, read_html, read_pdf  # noqa: E402
from tuneline.params import IngestParams  # noqa: E402
from tuneline.records import Document  # noqa: E402

CHROME = {
    "nav": "Home · Products · Pricing · Careers · Sign in to your account",
    "header": "Acme Developer Portal — the documentation hub for every Acme product",
    "cookie": "We use cookies to improve your experience. Accept all cookies or manage preferences",
    "aside": "Related posts: Ten tips for faster builds, Our journey to the cloud, Meet the team",
    "footer": "Copyright 2026 Acme Corporation. All rights reserved. Privacy policy · Terms of service",
    "script": "window.dataLayer.push({event: 'pageview', tracker: 'acme-analytics'})",
}


def site_page(body_html: str, title: str) -> bytes:
    return (f"<!doctype html><html><head><meta charset=utf-8><title>{title} | Acme Docs</title>"
            f"<script>{CHROME['script']}</script></head><body>"
            f"<header><p>{CHROME['header']}</p><nav><ul>"
            + "".join(f"<li><a href='/{w}'>{w}</a></li>" for w in CHROME["nav"].split(" · "))
            + f"</ul></nav></header><div class='cookie-banner'>{CHROME['cookie']}</div>"
            f"<main><article>{body_html}</article></main>"
            f"<aside><h3>Related</h3><p>{CHROME['aside']}</p></aside>"
            f"<footer><p>{CHROME['footer']}</p></footer></body></html>").encode()


def readmes(limit: int) -> list[tuple[str, str]]:
    found = {}
    for dist in importlib.metadata.distributions():
        meta = dist.metadata
        if "rst" in (meta.get("Description-Content-Type") or "") and meta["Name"] not in found:
            body = meta.get_payload() or ""
            if 300 < len(body.split()) < 20000:
                found[meta["Name"]] = body
    return sorted(found.items())[:limit]


def structure(rst: str) -> tuple[str, list[str], list[str]]:
    """The README's title, section titles and paragraphs (8+ words), as docutils parses it."""
    import docutils.core
    from docutils import nodes

    tree = docutils.core.publish_doctree(rst, settings_overrides={"report_level": 5,
                                                                   "halt_level": 5})
    title = next((n.astext() for n in tree.findall(nodes.title)), "")
    sections = [s.next_node(nodes.title).astext() for s in tree.findall(nodes.section)
                if s.next_node(nodes.title) is not None]
    paras = [" ".join(p.astext().split()) for p in tree.findall(nodes.paragraph)
             if len(p.astext().split()) >= 8 and not isinstance(p.parent, (nodes.system_message,))]
    return title, sections, paras


def body_html(rst: str) -> str:
    page = docutils_html(rst).decode()
    m = re.search(r"<main[^>]*>(.*)</main>", page, re.S) or re.search(r"<body[^>]*>(.*)</body>", page, re.S)
    return m.group(1)


def norm(text: str) -> str:
    text = re.sub(r"[*_`\\#>|]", "", htmllib.unescape(text))
    return " ".join(re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text).split()).lower()


def recall(paras: list[str], extracted: str) -> float:
    got = norm(extracted)
    # a paragraph counts when its first 12 words are in the text in order (link targets,
    # markup and line breaks differ between formats)
    return sum(" ".join(norm(p).split()[:12]) in got for p in paras) / max(1, len(paras))


class AllText(HTMLParser):
    def __init__(self):
        super().__init__()
        self.parts: list[str] = []

    def handle_data(self, data):
        self.parts.append(data)


def all_text(page: bytes) -> str:
    p = AllText()
    p.feed(page.decode())
    return "".join(p.parts)


def heading_recall(sections: list[str], parsed, path: str) -> float:
    chunks = chunk_documents([Document("d", path, parsed.text, parsed.title, parsed.structured)],
                             IngestParams())
    paths = {part.strip().lower() for c in chunks for part in c.section.split(" > ") if part}
    headed = {line.lstrip("#").strip().lower() for line in parsed.text.splitlines() if line.startswith("#")}
    want = [s.lower() for s in sections if s.strip()]
    return sum(s in paths or s in headed for s in want) / max(1, len(want))


def latin1(text: str) -> str:  # fpdf2's core fonts are Latin-1
    return text.encode("latin-1", "replace").decode("latin-1")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--max-docs", type=int, default=60)
    ap.add_argument("--generate", type=int, default=0, help="HTML chunks to write questions for")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    docs = readmes(args.max_docs)
    rows = {f: {"content": [], "headings": [], "leak": [], "unreadable": 0}
            for f in ("html", "html all-text baseline", "pdf", "docx")}
    files = {"html": [], "pdf": [], "docx": []}
    html_docs = []
    for name, rst in docs:
        title, sections, paras = structure(rst)
        page = site_page(body_html(rst), title or name)
        files["html"].append((page, f"{name}.html"))
        pdf = make_pdf([(latin1(s or name), latin1(" ".join(paras[i::max(1, len(sections))])), 0)
                        for i, s in enumerate(sections or [name])], title=latin1(title or name))
        files["pdf"].append((pdf, f"{name}.pdf"))
        blocks = [("title", title or name)]
        for i, s in enumerate(sections or [name]):
            blocks += [("h1", s)] + [("p", p) for p in paras[i::max(1, len(sections))]]
        files["docx"].append((make_docx(blocks), f"{name}.docx"))
        for fmt, reader, data, want_paras in (
                ("html", read_html, page, paras), ("pdf", read_pdf, pdf, [latin1(p) for p in paras]),
                ("docx", read_docx, files["docx"][-1][0], paras)):
            try:
                parsed = reader(data, f"{name}.{fmt}")
            except Unreadable:
                rows[fmt]["unreadable"] += 1
                continue
            rows[fmt]["content"].append(recall(want_paras, parsed.text))
            rows[fmt]["headings"].append(heading_recall(
                [latin1(s) for s in sections] if fmt == "pdf" else sections, parsed, f"{name}.{fmt}"))
            if fmt == "html":
                rows[fmt]["leak"].append(sum(norm(v)[:40] in norm(parsed.text) for v in CHROME.values())
                                         / len(CHROME))
                html_docs.append((name, parsed))
        base = all_text(page)
        rows["html all-text baseline"]["content"].append(recall(paras, base))
        rows["html all-text baseline"]["leak"].append(
            sum(norm(v)[:40] in norm(base) for v in CHROME.values()) / len(CHROME))
    speed = {}
    for fmt, reader in (("html", read_html), ("pdf", read_pdf), ("docx", read_docx)):
        times = []
        for _ in range(args.repeats):
            t = time.perf_counter()
            for data, path in files[fmt]:
                try:
                    reader(data, path)
                except Unreadable:
                    pass
            times.append(time.perf_counter() - t)
        speed[fmt] = len(files[fmt]) / statistics.median(times)
    print(f"{len(docs)} package READMEs (reStructuredText from installed distributions)")
    print(f"{'format':<24}{'content recall':>16}{'heading recall':>16}{'boilerplate leak':>18}"
          f"{'unreadable':>12}{'docs/s':>9}")
    for fmt, r in rows.items():
        mean = lambda xs: f"{statistics.mean(xs):.3f}" if xs else "-"  # noqa: E731
        sp = f"{speed[fmt]:.1f}" if fmt in speed else "-"
        print(f"{fmt:<24}{mean(r['content']):>16}{mean(r['headings']):>16}{mean(r['leak']):>18}"
              f"{r['unreadable']:>12}{sp:>9}")
    if args.generate:
        generation(html_docs, args.generate)


def generation(html_docs, n: int) -> None:
    """Questions for the same chunks with and without their source line."""
    from tuneline.curation.generate import parse_question, question_chat, where
    from tuneline.llm import make_llm
    from tuneline.params import LLMParams

    chunks = []
    for name, parsed in html_docs:
        got = chunk_documents([Document("d", name, parsed.text, parsed.title, True)], IngestParams())
        chunks += [(name, c) for c in got[1:3] if c.section]  # past the intro: sections rarely name the package
    chunks = chunks[:n]
    llm = make_llm(LLMParams(cache=False))
    print(f"\nquestions for {len(chunks)} section chunks (SmolLM2-135M, greedy):")
    for label, source in (("text only", lambda c: ""), ("with Source: line", where)):
        replies = llm.generate([question_chat(c.text, source(c)) for _, c in chunks],
                               max_new_tokens=48, temperature=0.0, desc=label)
        questions = [parse_question(r) for r in replies]
        named = sum(bool(q) and re.search(rf"\b{re.escape(name.lower())}\b", q.lower()) is not None
                    for (name, _), q in zip(chunks, questions))
        print(f"  {label:<20} parsed {sum(q is not None for q in questions)}/{len(chunks)}, "
              f"name the package {named}/{len(chunks)}")


if __name__ == "__main__":
    main()
