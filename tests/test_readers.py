"""Document formats read by their libraries, on files real tools write at test time: HTML by
docutils (from RST that ships inside installed packages), PDF by fpdf2 (and encrypted by
pypdf), DOCX by python-docx; the text in them is third-party docstrings."""

import importlib.metadata
import io
import json
import re

import pytest

from tests.docfiles import docutils_html, make_docx, make_pdf, pod2html
from tuneline.documents.ingest import chunk_documents, read_sources, scan_sources
from tuneline.documents.readers import Unreadable, read_docx, read_html, read_pdf
from tuneline.params import IngestParams
from tuneline.records import Document

# real prose: the docstrings of functions every Python has
DOCS = {name: " ".join(fn.__doc__.split()) for name, fn in
        (("dumps", json.dumps), ("loads", json.loads), ("dedent", __import__("textwrap").dedent),
         ("fill", __import__("textwrap").fill))}


SITE_RST = """\
=============
JSON handbook
=============

.. header:: Home | Download | Community | Blog | Sign in

.. footer:: Copyright 2026 Example Foundation. All rights reserved. Privacy policy.

.. raw:: html

   <script>window.analytics = {{track: function () {{}}}}; analytics.track("pageview");</script>

Encoding
========

{dumps}

Decoding
========

{loads}

Options
-------

The indent and separators options of the encoder are described above.
""".format(**DOCS)


def test_html_keeps_main_content_and_headings_and_drops_header_footer_script():
    parsed = read_html(docutils_html(SITE_RST), "handbook.html")
    assert parsed.title == "JSON handbook" and parsed.structured
    assert "Serialize obj to a JSON formatted str" in parsed.text
    for boilerplate in ("Sign in", "Privacy policy", "analytics", "<script"):
        assert boilerplate not in parsed.text
    chunks = chunk_documents([Document("d", "handbook.html", parsed.text, parsed.title, True)],
                             IngestParams())
    assert {c.section for c in chunks} >= {"Encoding", "Decoding"}
    assert all(c.title == "JSON handbook" for c in chunks)
    decoding = next(c for c in chunks if c.section.startswith("Decoding"))
    assert "Deserialize" in decoding.text and "Serialize obj" not in decoding.text


@pytest.mark.parametrize("dist", ["frozenlist", "datasketch", "tqdm"])
def test_html_of_a_packages_readme_is_cut_at_its_sections(dist):
    readme = importlib.metadata.distribution(dist).metadata.get_payload()
    parsed = read_html(docutils_html(readme), f"{dist}.html")
    chunks = chunk_documents([Document("d", f"{dist}.html", parsed.text, parsed.title, True)],
                             IngestParams())
    assert len(chunks) >= 2 and sum(bool(c.section) for c in chunks) >= len(chunks) // 2
    # every section path names headings that are in the document
    headings = {line.lstrip("#").strip() for line in parsed.text.splitlines() if line.startswith("#")}
    assert all(set(c.section.split(" > ")) <= headings for c in chunks if c.section)


def sections_text(chunks) -> dict[str, str]:
    """Each section path and the text of its chunks, in order."""
    out: dict[str, list[str]] = {}
    for c in chunks:
        out.setdefault(c.section, []).append(c.text)
    return {k: "\n\n".join(v) for k, v in out.items()}


PDF_SECTIONS = [("Wrapping text", DOCS["fill"], 0),
                # a listing's comment line starts with '#': text, not a heading
                ("Dedent", DOCS["dedent"] + "\n# strip the margin first\n", 1),
                ("JSON", DOCS["loads"], 0)]


def test_pdf_outline_becomes_the_heading_path():
    parsed = read_pdf(make_pdf(PDF_SECTIONS), "manual.pdf")
    assert parsed.title == "textwrap and json"
    chunks = chunk_documents([Document("d", "manual.pdf", parsed.text, parsed.title, True)],
                             IngestParams(min_chunk_words=5))
    by_section = sections_text(chunks)
    assert set(by_section) == {"Wrapping text", "Wrapping text > Dedent", "JSON"}
    dedent = " ".join(by_section["Wrapping text > Dedent"].split())
    assert "Remove any common leading whitespace" in dedent and "# strip the margin first" in dedent
    assert "Deserialize" in by_section["JSON"]


def test_pdf_that_opens_without_a_password_is_read_and_one_that_needs_one_is_quarantined():
    import pypdf

    def encrypted(user_password):
        writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(io.BytesIO(make_pdf(PDF_SECTIONS))))
        writer.encrypt(user_password=user_password, owner_password="owner-secret")
        out = io.BytesIO()
        writer.write(out)
        return out.getvalue()

    assert "Deserialize" in read_pdf(encrypted(""), "open.pdf").text  # owner password only
    with pytest.raises(Unreadable) as e:
        read_pdf(encrypted("user-secret"), "locked.pdf")
    assert e.value.reason == "encrypted_file"


def test_broken_and_textless_pdf_and_docx_are_unreadable_with_reasons():
    from fpdf import FPDF

    blank = FPDF()
    blank.add_page()
    cases = {"truncated.pdf": (read_pdf, make_pdf(PDF_SECTIONS)[:300], "unparseable_file"),
             "blank.pdf": (read_pdf, bytes(blank.output()), "no_text"),
             "truncated.docx": (read_docx, make_docx(DOCX)[:500], "unparseable_file"),
             "empty.docx": (read_docx, make_docx([]), "no_text")}
    for name, (reader, data, reason) in cases.items():
        with pytest.raises(Unreadable) as e:
            reader(data, name)
        assert e.value.reason == reason, name
        assert e.value.detail.startswith(("PDF:", "DOCX:")), name


DOCX = [("title", "Text utilities"), ("h1", "Wrapping"), ("p", DOCS["fill"]),
        ("h2", "Dedent"), ("p", DOCS["dedent"]), ("bullet", "works on every line"),
        ("h1", "JSON"), ("table", [["function", "returns"], ["dumps", "str"]]), ("p", DOCS["dumps"])]


def test_docx_headings_lists_and_tables_in_body_order():
    parsed = read_docx(make_docx(DOCX), "utils.docx")
    assert parsed.title == "Text utilities"
    chunks = chunk_documents([Document("d", "utils.docx", parsed.text, parsed.title, True)],
                             IngestParams(min_chunk_words=5))
    by_section = sections_text(chunks)
    assert set(by_section) == {"Wrapping", "Wrapping > Dedent", "JSON"}
    assert "- works on every line" in by_section["Wrapping > Dedent"]
    assert by_section["JSON"].startswith("function | returns\ndumps | str")


def test_a_mixed_folder_reads_every_format_and_quarantines_the_broken_files(tmp_path):
    (tmp_path / "handbook.html").write_bytes(docutils_html(SITE_RST))
    (tmp_path / "manual.pdf").write_bytes(make_pdf(PDF_SECTIONS))
    (tmp_path / "utils.docx").write_bytes(make_docx(DOCX))
    (tmp_path / "notes.md").write_text("# Notes\n\n## Loads\n\n" + DOCS["loads"])
    (tmp_path / "broken.pdf").write_bytes(b"%PDF-1.7\n" + b"\x00garbage" * 20)
    (tmp_path / "broken.docx").write_bytes(b"PK\x03\x04 not really a zip")
    params = IngestParams()
    files, skipped = scan_sources(tmp_path, params)
    got = read_sources(tmp_path, files, params)
    assert sorted(d.source for d in got.documents) == ["handbook.html", "manual.pdf", "notes.md",
                                                       "utils.docx"]
    assert sorted((d.record["path"], d.reason) for d in got.dropped) == [
        ("broken.docx", "unparseable_file"), ("broken.pdf", "unparseable_file")]
    assert len(files) == len(got.documents) + len(got.dropped) and not skipped


def test_plain_text_with_an_indented_body_gets_its_titles_as_headings_and_its_body_as_prose():
    """Python's "customization" reference topic (shipped with CPython) is laid out like a
    manual: each method's signature at column 0, its description indented three spaces.
    Read as plain text, every description was an indented code block and no answer passage;
    read as a manual, the signatures are sections and the descriptions prose."""
    import pydoc_data.topics

    from tuneline.curation.passages import passages
    from tuneline.documents.readers import read_text

    text = pydoc_data.topics.topics["customization"]
    parsed = read_text(text.encode(), "customization.txt")
    assert parsed.structured
    assert "## object.__new__(cls[, ...])" in parsed.text.splitlines()
    assert "## *******************" not in parsed.text  # the title's underline is no heading
    doc = Document("d", "customization.txt", parsed.text, parsed.title, True)
    sections = {c.section for c in chunk_documents([doc], IngestParams())}
    assert any("object.__new__" in s for s in sections)
    found = passages(parsed.text, 15, 120)
    assert any(p.startswith("Typical implementations create a new instance") for p in found)
    # text at column 0 with code indented under it (another topic) is no manual: its code
    # stays indented; only its underlined title is a heading
    plain = read_text(pydoc_data.topics.topics["while"].encode(), "while.txt")
    assert "\n   while_stmt ::= " in plain.text and plain.title == 'The "while" statement'
    assert not any(line.startswith("## ") for line in plain.text.splitlines())


def test_a_readme_in_plain_text_gets_its_underlined_titles_as_headings():
    """datasketch's README (its package's long description, reStructuredText) as a user's
    folder holds it, a .txt or .rst file: read as prose, each title ran into the paragraph
    under it and its underline into the answers ("Install ------- To install datasketch
    ..."); its titles are now sections, levels in the order their underlines first appear."""
    import importlib.metadata

    from tuneline.documents.readers import read_text

    readme = importlib.metadata.metadata("datasketch").get_payload()
    parsed = read_text(readme.encode(), "datasketch/README.rst")
    assert parsed.structured and parsed.title == "datasketch: Big Data Looks Small"
    headings = [line for line in parsed.text.splitlines() if line.startswith("#")]
    assert "## Install" in headings and "### Development Setup" in headings
    assert not re.search(r"^-{3,}\s*$", parsed.text, re.M)  # no underline left
    assert "+===" in parsed.text  # a table's border is no underline
    doc = Document("d", "README.rst", parsed.text, parsed.title, True)
    sections = {c.section for c in chunk_documents([doc], IngestParams())}
    assert any(s.startswith("Contributing > Development") for s in sections)
    # a heading that names no document leaves the title to the file's name
    general = read_text(b"General Information\n===================\n\nThis is GTK+ version 2.24.33. "
                        b"GTK+ is a multi-platform toolkit.\n", "gtk/README.txt")
    assert general.title == "README" and general.text.startswith("# General Information")


def test_a_man_page_as_man_prints_it_is_read_as_a_manual(tmp_path):
    import shutil
    import subprocess

    from tuneline.curation.passages import passages
    from tuneline.documents.readers import read_text

    page = "/usr/share/man/man1/gzip.1.gz"
    if not (shutil.which("man") and shutil.which("col") and __import__("os").path.exists(page)):
        pytest.skip("no man(1) or gzip's manual page here")
    out = subprocess.run(f"man --no-hyphenation --no-justification -P cat {page} | col -b",
                         shell=True, capture_output=True, text=True,
                         env={"MANWIDTH": "78", "PATH": "/usr/bin:/bin"}).stdout
    parsed = read_text(out.encode(), "gzip.txt")
    assert parsed.title == "gzip, gunzip, zcat - compress or expand files"
    lines = parsed.text.splitlines()
    assert {"## NAME", "## SYNOPSIS", "## DESCRIPTION"} <= set(lines)
    assert not any("General Commands Manual" in x for x in lines)  # the running head
    found = passages(parsed.text, 15, 120)
    assert any(p.startswith("The gzip command reduces the size of the named files") for p in found)
    assert not any(p.startswith("gzip [") for p in found)  # the synopsis is usage, not prose
    # an option over its indented description is a definition-list item, not a sentence
    # that starts with the option ("-c --stdout --to-stdout Write output on standard output")
    assert any(x.startswith("- -c --stdout --to-stdout: Write output on standard output") for x in lines)
    assert not any(p.startswith("-c ") for p in found)


def test_a_manuals_term_glued_to_its_description_by_a_tab_or_one_space_is_still_an_item():
    """`man` leaves a term that fills its column one space (or one tab) from its description;
    the description's continuation hangs at the column the description starts at. Lines as
    vim's, genbrk's and ldd's pages print them (tabs included); an example command over its
    output is code, not a term."""
    from tuneline.documents.readers import read_text

    page = ("VIM(1)                  General Commands Manual                 VIM(1)\n\n"
            "NAME\n       vim - Vi IMproved, a programmer's text editor\n\n"
            "DESCRIPTION\n"
            "       Vim is a text editor that is upwards compatible to Vi.  It can be\n"
            "       used to edit all kinds of plain text.  It is especially useful for\n"
            "       editing programs.\n\n"
            "       There are a lot of enhancements above Vi: multi level undo, multi\n"
            "       windows and buffers, syntax highlighting, command line editing,\n"
            "       filename completion, on-line help, visual selection, etc..  See\n"
            "       \":help vi_diff.txt\" for a summary of the differences between Vim and\n"
            "       Vi.\n\n"
            "OPTIONS\n"
            "       -d {device} Open {device} for use as a terminal.\t Only on the Amiga.\n"
            "\t\t   Example: \"-d con:20/30/600/150\".\n\n"
            "       -D\t   Debugging.  Go to debugging mode when executing the first\n"
            "\t\t   command from a script.\n\n"
            "ENVIRONMENT\n"
            "       ICU_DATA\t Specifies the directory containing ICU data. Defaults to\n"
            "\t\t ${prefix}/share/icu/72.1/.  Some tools in ICU depend on the\n"
            "\t\t presence of the trailing slash.\n\n"
            "EXAMPLES\n"
            "       An example of its use and output is the following:\n\n"
            "\t   $ ldd /bin/ls\n"
            "\t       linux-vdso.so.1 (0x00007ffcc3563000)\n"
            "\t       libc.so.6 => /lib64/libc.so.6 (0x00007f87e4e92000)\n\n"
            "       The line above is what ldd printed on one system.\n")
    parsed = read_text(page.encode(), "vim.txt")
    lines = parsed.text.splitlines()
    assert parsed.title == "vim - Vi IMproved, a programmer's text editor"
    assert "- -d {device}: Open {device} for use as a terminal. Only on the Amiga. " \
           "Example: \"-d con:20/30/600/150\"." in lines
    assert "- -D: Debugging. Go to debugging mode when executing the first command from a script." in lines
    assert any(x.startswith("- ICU_DATA: Specifies the directory containing ICU data.") for x in lines)
    assert "    $ ldd /bin/ls" in lines and not any(x.startswith("- $ ldd") for x in lines)


def test_a_manuals_subsection_titles_are_headings_and_a_run_in_field_name_is_a_term():
    """Between the margin and the body, a short line is a subsection title (crypt(5): "   gost-
    yescrypt" over its description, once read as "gost-yescrypt gost-yescrypt uses ..."); a
    field whose name starts its paragraph one space before its description is a term
    (lnstat(8): "forced_gc_runs How many forced ..."). Lines as `man` prints the two pages."""
    from tuneline.documents.readers import read_text

    body = ("     gost-yescrypt uses the output from the yescrypt hashing method in place\n"
            "     of a hmac message.  Thus, the yescrypt crypto properties are superseded\n"
            "     by the GOST R 34.11-2012 (Streebog) hash function with a 256 bit\n"
            "     digest.\n\n")
    page = ("CRYPT(5)                  File Formats Manual                  CRYPT(5)\n\n"
            "NAME\n     crypt - storage format for hashed passphrases and available hashing methods\n\n"
            "DESCRIPTION\n"
            "     The hashing methods implemented by crypt(3) are designed only to\n"
            "     process user passphrases for storage and authentication; they are not\n"
            "     suitable for use as general-purpose cryptographic hashes.\n\n"
            "     Passphrase hashing is not a replacement for strong passphrases.  It is\n"
            "     always possible for an attacker with access to the hashed passphrases\n"
            "     to guess and check possible cleartext passphrases.\t However, with a\n"
            "     strong hashing method, guessing will be too slow for the attacker to\n"
            "     discover a strong passphrase.\n\n"
            "     All of the hashing methods are also deliberately engineered to be slow;\n"
            "     they use many iterations of an underlying cryptographic primitive to\n"
            "     increase the cost of each guess.  The newer hashing methods allow the\n"
            "     number of iterations to be adjusted, using the CPU time cost\n"
            "     parameter to crypt_gensalt(3).  This makes it possible to keep the hash\n"
            "     slow as hardware improves.\n\n"
            "FORMAT OF HASHED PASSPHRASES\n"
            "     All of the hashing methods supported by crypt(3) produce a hashed\n"
            "     passphrase which consists of four components: prefix, options, salt,\n"
            "     and hash.\tThe prefix controls which hashing method is to be used, and\n"
            "     is the appropriate string to pass to crypt_gensalt(3) to select that\n"
            "     method.  The contents of options, salt, and hash are up to the method.\n\n"
            "AVAILABLE HASHING METHODS\n"
            "   gost-yescrypt\n" + body +
            "   bsdicrypt (BSDI extended DES)\n"
            "     A weak extension of traditional DES, which eliminates the length limit,\n"
            "     increases the salt size, and makes the time cost tunable.\n\n"
            "FIELDS\n"
            "     periodic_gc_runs How many garbage collection runs were\n"
            "     executed.\n\n"
            "     forced_gc_runs How many forced garbage collection runs were\n"
            "     executed. Happens when adding an entry and the table is too\n"
            "     full.\n")
    lines = read_text(page.encode(), "crypt.txt").text.splitlines()
    assert "### gost-yescrypt" in lines and "### bsdicrypt (BSDI extended DES)" in lines
    assert "gost-yescrypt uses the output from the yescrypt hashing method in place" in lines
    assert "- forced_gc_runs: How many forced garbage collection runs were executed. Happens " \
           "when adding an entry and the table is too full." in lines
    # a sentence at the body's indent is prose, whatever its first word
    assert "The hashing methods implemented by crypt(3) are designed only to" in lines


# Valgrind's manual (as Debian's valgrind package ships it) sets its licence as a
# "literallayout": the text's own lines, each ended by <br>
GFDL_HTML = """<html><head><title>2. The GNU Free Documentation License</title></head><body>
<div class="sect1"><div class="titlepage"><div><div><h1 class="title">
<a name="license.gfdl"></a>2. The GNU Free Documentation License</h1></div></div></div>
<div class="literallayout"><p><br>
0. PREAMBLE<br>
<br>
We have designed this License in order to use it for manuals for free<br>
software, because free software needs free documentation: a free<br>
program should come with manuals providing the same freedoms that the<br>
software does.  But this License is not limited to software manuals;<br>
it can be used for any textual work, regardless of subject matter or<br>
whether it is published as a printed book.  We recommend this License<br>
principally for works whose purpose is instruction or reference.<br>
<br>
</p></div></div></body></html>"""


def test_html_lines_of_one_wrapped_paragraph_are_joined_back_into_it():
    from tuneline.documents.readers import read_html

    text = read_html(GFDL_HTML.encode(), "license.gfdl.html").text
    assert ("a free program should come with manuals providing the same freedoms that the software "
            "does.") in " ".join(text.split())
    paragraph = next(p for p in text.split("\n\n") if "We have designed" in p)
    assert paragraph.rstrip().endswith("principally for works whose purpose is instruction or reference.")
    assert "\xa0" not in text
    assert any(p.strip() == "0. PREAMBLE" for p in text.split("\n\n"))  # a title stays apart


def test_a_pod2html_manual_page_keeps_its_headings_and_its_code_blocks_and_each_function_stays_under_its_own(tmp_path):
    """pod2html puts its content straight in <body>: trafilatura's fallback extractors read
    such a page and dropped every heading, so "Returns a string ..." of last_error() read as
    part of the section before it."""
    page = pod2html("Params::Check", tmp_path)
    parsed = read_html(page, "perl-Params-Check.html")
    headings = [line for line in parsed.text.splitlines() if line.startswith("#")]
    assert {"# NAME", "# DESCRIPTION", "## last_error()", "## $Params::Check::VERBOSE"} <= set(headings)
    assert not any("TUNELINE" in line for line in parsed.text.splitlines())
    # its <pre> blocks inside definitions: each fence on a line of its own, none glued to text
    assert parsed.text.count("```") % 2 == 0
    assert all(line.strip().startswith("```") or "```" not in line for line in parsed.text.splitlines())
    chunks = chunk_documents([Document("d", "perl-Params-Check.html", parsed.text, parsed.title, True)],
                             IngestParams())
    owner = next(c for c in chunks if "Returns a string containing all warnings" in c.text)
    assert owner.section.endswith("last_error()")


def test_a_docbook_chapter_keeps_its_section_headings():
    """Valgrind's DocBook pages: the chapter and its numbered sections, each a heading."""
    html = ("<html><head><title>5. Cachegrind</title></head><body><div class=\"chapter\">"
            "<div class=\"titlepage\"><div><div><h1 class=\"title\"><a name=\"cg\"></a>5. Cachegrind: "
            "a cache profiler</h1></div></div></div><div class=\"sect1\"><div class=\"titlepage\">"
            "<div><div><h2 class=\"title\"><a name=\"cg.overview\"></a>5.1. Overview</h2></div></div>"
            "</div><p>" + DOCS["dumps"] + "</p></div><div class=\"sect1\"><div class=\"titlepage\">"
            "<div><div><h2 class=\"title\">5.2. Using cg_annotate</h2></div></div></div><p>"
            + DOCS["loads"] + "</p></div></div></body></html>")
    text = read_html(html.encode(), "cg-manual.html").text
    assert [line for line in text.splitlines() if line.startswith("#")] == [
        "# 5. Cachegrind: a cache profiler", "## 5.1. Overview", "## 5.2. Using cg_annotate"]


def test_markdown_escapes_are_undone_in_prose_and_kept_in_code_and_at_a_line_start():
    from tuneline.documents.readers import unescape_markdown

    assert unescape_markdown("ExtUtils::MM\\_Unix returns \\<string> or \\[a\\]") == \
        "ExtUtils::MM_Unix returns <string> or [a]"
    # a backslash that is the text's own: in code, doubled by the escaper, before a star
    assert unescape_markdown("use `\\*STDIN` and ```\nx\\_y\n```") == "use `\\*STDIN` and ```\nx\\_y\n```"
    assert unescape_markdown("C:\\\\\\_dir") == "C:\\_dir"
    assert unescape_markdown("*ffi\\_call (void \\*fn)*") == "*ffi_call (void \\*fn)*"
    assert unescape_markdown("text\n\\_ starts a line") == "text\n\\_ starts a line"
    # after code that opens a line, no longer at its start (Node.js's "- `path` \\<string>")
    assert unescape_markdown("- `path` \\<string>") == "- `path` <string>"
