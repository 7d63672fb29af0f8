"""Documents made by real tools at test time: HTML by docutils or markdown-it, PDF by fpdf2,
DOCX by python-docx (tests/test_readers.py and the end-to-end run's mixed folder)."""

import io

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
