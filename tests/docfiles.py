"""Documents made by real tools at test time: HTML by docutils, markdown-it or Perl's
pod2html, PDF by fpdf2, DOCX by python-docx (tests/test_readers.py, tests/test_generate.py and
the end-to-end run's mixed folder)."""

import io
import shutil
import subprocess
from pathlib import Path

import pytest

import docutils.core


def docutils_html(rst: str) -> bytes:
    return docutils.core.publish_string(rst, writer="html5", settings_overrides={
        "report_level": 5, "halt_level": 5, "output_encoding": "utf-8"})


def markdown_html(markdown: str, title: str) -> bytes:
    """A page as a static-site generator writes it: markdown-it's HTML inside a site's chrome."""
    from markdown_it import MarkdownIt

    body = MarkdownIt().render(markdown)
    return (f"<!doctype html><html><head><meta charset=utf-8><title>{title}</title></head><body>"
            "<nav><a href='/'>Home</a> | <a href='/docs'>Docs</a> | <a href='/blog'>Blog</a></nav>"
            f"<main><article>{body}</article></main>"
            "<footer>Copyright 2026 Example. Privacy policy. Terms of use.</footer>"
            "<script>console.log('analytics')</script></body></html>").encode()


def pod2html(module: str, scratch: Path) -> bytes:
    """The manual page of one of Perl's own modules as pod2html writes it (skips the test
    where Perl's pod2html is not installed). perl-base ships its modules with their POD
    stripped, so the first copy on @INC that has its documentation is read."""
    if not shutil.which("pod2html") or not shutil.which("perl"):
        pytest.skip("needs Perl's pod2html (Debian's perl package) to write the page")
    inc = subprocess.run(["perl", "-e", 'print join "\\n", @INC'], capture_output=True, text=True,
                         check=True).stdout.split("\n")
    scratch.mkdir(parents=True, exist_ok=True)  # (pod2html keeps a cache file there)
    rel = module.replace("::", "/") + ".pm"
    path = next(p for d in inc if (p := Path(d) / rel).is_file() and "=head1" in p.read_text(errors="replace"))
    return subprocess.run(["pod2html", f"--infile={path}", f"--title={module}", "--quiet",
                           f"--cachedir={scratch}"], capture_output=True, check=True).stdout


def make_pdf(sections, title="textwrap and json") -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_title(title)
    for heading, body, level in sections:
        if level == 0:
            pdf.add_page()
        pdf.start_section(heading, level=level)
        pdf.set_font("helvetica", "B", 14 - 2 * level)
        pdf.cell(text=heading)
        pdf.ln(10)
        pdf.set_font("helvetica", size=11)
        pdf.multi_cell(0, 5, body)
        pdf.ln(4)
    return bytes(pdf.output())


def make_docx(blocks) -> bytes:
    """blocks: (title | h1 | h2 | bullet | table | p, text or rows)."""
    import docx

    document = docx.Document()
    for kind, value in blocks:
        if kind == "title":
            document.add_heading(value, 0)
        elif kind in ("h1", "h2"):
            document.add_heading(value, int(kind[1]))
        elif kind == "bullet":
            document.add_paragraph(value, style="List Bullet")
        elif kind == "table":
            table = document.add_table(rows=len(value), cols=len(value[0]))
            for r, row in enumerate(value):
                for c, cell in enumerate(row):
                    table.cell(r, c).text = cell
        else:
            document.add_paragraph(value)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()
