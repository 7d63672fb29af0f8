"""A folder of real documentation pages nobody on this project wrote, for real runs.

The kept-pair precision of a curation change is read on what the product produces from
documents like a user's: HTML manual pages and plain-text reference topics. This writes
such a folder from text that ships on the machine (nothing is downloaded or committed):
- the libffi manual's HTML pages (Debian's libffi8 package, /usr/share/doc/libffi8/html);
- Python's language-reference topics (`pydoc_data.topics`, shipped with CPython), as .txt;
- the Rust toolchain's HTML FAQs when rustup installed them;
- with `--man`, manual pages instead (sections 1, 5 and 8 of /usr/share/man, as `man` prints
  them to a terminal: an indented body under column-0 titles), a source no check was written
  from;
- with `--other-html`, pages of other HTML manuals that ship on the machine (Node.js's API
  reference, Valgrind's manual, libxslt's), read by no check before 2026-12-07's fifth session;
- with `--perl`, the documentation of Perl's core modules (/usr/share/perl, perl-base and
  perl-modules) rendered as HTML manual pages by `pod2html`, read by no check before
  2026-12-07's sixth session;
- with `--readmes`, the READMEs, FAQs and Markdown or text notes that Debian's packages ship in
  /usr/share/doc (git's how-tos, util-linux's and systemd's notes, zlib's FAQ, ...): prose
  written for people, where the model writes every question; read by no check before
  2026-12-08.
A seeded choice of pages; `--seed` picks another set, so a change can be checked on pages it
was not tuned on.

    python benchmarks/realdocs.py OUT_DIR [--pages 20] [--seed 0] [--man | --other-html | --perl | --readmes]
    tuneline run configs/dataset.yaml --set parameters.raw_dir=OUT_DIR
"""

from __future__ import annotations

import argparse
import glob
import os
import random
import re
import shutil
from pathlib import Path

HTML_DIRS = ["/usr/share/doc/libffi8/html"]
RUST_HTML = "~/.rustup/toolchains/*/share/doc/rust/html/complement-*.html"
SKIP_HTML = {"index.html", "Index.html"}  # tables of contents, not prose


def html_pages() -> list[str]:
    pages = [p for d in HTML_DIRS for p in sorted(glob.glob(os.path.join(d, "*.html")))
             if os.path.basename(p) not in SKIP_HTML]
    return pages + sorted(glob.glob(os.path.expanduser(RUST_HTML)))


def topics() -> dict[str, str]:
    import pydoc_data.topics as t

    # the longest topics are tables of operators and method lists; keep prose-sized ones
    return {k: v for k, v in t.topics.items() if 150 <= len(v.split()) <= 2500}


def man_pages(out: str, pages: int, seed: int) -> list[str]:
    """`pages` manual pages of 300-2500 words, rendered as plain text by man(1)."""
    import subprocess

    rng = random.Random(seed)
    # one page per family: gcloud alone ships thousands of generated pages
    families: dict[str, str] = {}
    for p in sorted(p for s in ("1", "5", "8") for p in glob.glob(f"/usr/share/man/man{s}/*.gz")):
        families.setdefault(re.split(r"[_.-]", os.path.basename(p))[0], p)
    found = sorted(families.values())
    rng.shuffle(found)
    Path(out).mkdir(parents=True, exist_ok=True)
    written: list[str] = []
    env = {**os.environ, "MANWIDTH": "78", "MAN_KEEP_FORMATTING": ""}
    for page in found:
        if len(written) == pages:
            break
        res = subprocess.run(f"man --no-hyphenation --no-justification -P cat {page} | col -b",
                             shell=True, capture_output=True, text=True, env=env)
        text = res.stdout
        if res.returncode or not 300 <= len(text.split()) <= 2500 or "DESCRIPTION" not in text:
            continue
        name = os.path.basename(page)[:-3]
        dest = os.path.join(out, f"man-{name}.txt")
        Path(dest).write_text(text, encoding="utf-8")
        written.append(dest)
    return written


def other_html(out: str, pages: int, seed: int, dirs: list[str], max_words: int = 4000) -> list[str]:
    """`pages` HTML pages of 300-`max_words` words from other manuals that ship on the machine
    (Node.js's API reference, Valgrind's and libxslt's manuals, ...): genres no check was
    written from. Seeded; index and table-of-contents pages left out."""
    rng = random.Random(seed)
    per_dir = []
    for d in dirs:  # each manual in turn, so no one manual's many pages fill the folder
        pages_of = sorted(p for p in glob.glob(os.path.join(d, "*.html"))
                          if os.path.basename(p).lower() not in {"index.html", "all.html", "toc.html"})
        rng.shuffle(pages_of)
        per_dir.append(pages_of)
    found = [p for group in zip(*per_dir) for p in group]
    Path(out).mkdir(parents=True, exist_ok=True)
    written: list[str] = []
    for p in found:
        if len(written) == pages:
            break
        text = re.sub(r"<[^>]+>", " ", Path(p).read_text(encoding="utf-8", errors="replace"))
        if not 300 <= len(text.split()) <= max_words:
            continue
        dest = os.path.join(out, f"{Path(p).parent.parent.name}-{os.path.basename(p)}")
        shutil.copyfile(p, dest)
        written.append(dest)
    return written


def perl_pages(out: str, pages: int, seed: int, max_words: int = 4000) -> list[str]:
    """`pages` Perl core modules' manual pages as HTML (`pod2html`, each a NAME, SYNOPSIS,
    DESCRIPTION and its functions or methods as items), 300-`max_words` words; seeded."""
    import subprocess
    import tempfile

    rng = random.Random(seed)
    found = sorted(p for root in ("/usr/share/perl", "/usr/lib/x86_64-linux-gnu/perl-base",
                                  "/usr/lib/x86_64-linux-gnu/perl")
                   for p in glob.glob(os.path.join(root, "**", "*.pm"), recursive=True))
    rng.shuffle(found)
    Path(out).mkdir(parents=True, exist_ok=True)
    written: list[str] = []
    seen: set[str] = set()
    for p in found:
        if len(written) == pages:
            break
        name = re.sub(r"^.*?/perl(?:-base)?/(?:5[.0-9]*/)?", "", p)[:-3].replace("/", "::")
        if name in seen or "=head1 DESCRIPTION" not in Path(p).read_text(errors="replace"):
            continue
        with tempfile.TemporaryDirectory() as tmp:  # pod2html leaves a cache file behind
            res = subprocess.run(["pod2html", f"--infile={p}", f"--title={name}", "--quiet",
                                  f"--cachedir={tmp}"], capture_output=True, text=True)
        text = re.sub(r"<[^>]+>", " ", res.stdout)
        if res.returncode or not 300 <= len(text.split()) <= max_words:
            continue
        seen.add(name)
        dest = os.path.join(out, f"perl-{name.replace('::', '-')}.html")
        Path(dest).write_text(res.stdout, encoding="utf-8")
        written.append(dest)
    return written


def readme_pages(out: str, pages: int, seed: int, max_words: int = 4000) -> list[str]:
    """`pages` READMEs, FAQs and notes of 300-`max_words` words from /usr/share/doc (gzipped
    ones unpacked), at most two per package so git's hundred notes do not fill the folder;
    change logs, release notes, news and licences left out. Seeded."""
    import gzip

    rng = random.Random(seed)
    wanted = re.compile(r"(README|FAQ)[^/]*$|\.(md|txt)(\.gz)?$", re.I)
    unwanted = re.compile(r"changelog|news|copyright|licen[cs]e|relnotes|/html/|/api/", re.I)
    by_package: dict[str, list[str]] = {}
    for p in sorted(glob.glob("/usr/share/doc/**/*", recursive=True)):
        if os.path.isfile(p) and wanted.search(p) and not unwanted.search(p):
            by_package.setdefault(p.split("/")[4], []).append(p)
    packages = sorted(by_package)
    rng.shuffle(packages)
    Path(out).mkdir(parents=True, exist_ok=True)
    written: list[str] = []
    seen: set[str] = set()  # gcc, g++ and cpp ship the same notes
    for package in packages:
        files = by_package[package]
        rng.shuffle(files)
        for p in files[:2]:
            if len(written) == pages:
                return written
            raw = Path(p).read_bytes()
            text = (gzip.decompress(raw) if p.endswith(".gz") else raw).decode("utf-8", "replace")
            if text in seen or not 300 <= len(text.split()) <= max_words:
                continue
            seen.add(text)
            name = os.path.basename(p).removesuffix(".gz")
            stem, ext = (name[:-3], ".md") if name.lower().endswith(".md") else (
                name.removesuffix(".txt"), ".txt")
            dest = os.path.join(out, f"{package}-{stem.replace('.', '-')}{ext}")
            Path(dest).write_text(text, encoding="utf-8")
            written.append(dest)
    return written


OTHER_HTML = ["/usr/share/doc/nodejs/api", "/usr/share/doc/valgrind/html", "/usr/share/doc/libxslt1-dev/html"]


def write(out: str, pages: int = 20, seed: int = 0, man: bool = False, other: bool = False,
          max_words: int = 4000, perl: bool = False, readmes: bool = False) -> list[str]:
    if readmes:
        return readme_pages(out, pages, seed, max_words)
    if perl:
        return perl_pages(out, pages, seed, max_words)
    if man:
        return man_pages(out, pages, seed)
    if other:
        return other_html(out, pages, seed, OTHER_HTML, max_words)
    rng = random.Random(seed)
    html, text = html_pages(), topics()
    n_html = min(len(html), pages // 2)
    chosen_html = rng.sample(html, n_html)
    chosen_topics = rng.sample(sorted(text), min(len(text), pages - n_html))
    Path(out).mkdir(parents=True, exist_ok=True)
    written = []
    for p in chosen_html:
        dest = os.path.join(out, os.path.basename(p))
        shutil.copyfile(p, dest)
        written.append(dest)
    for k in chosen_topics:
        dest = os.path.join(out, f"python-{k}.txt")
        Path(dest).write_text(text[k], encoding="utf-8")
        written.append(dest)
    return written


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--pages", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--man", action="store_true", help="manual pages instead of HTML and topics")
    ap.add_argument("--other-html", action="store_true", help=(
        "HTML pages of other manuals on the machine (Node.js API, Valgrind, libxslt) instead"))
    ap.add_argument("--perl", action="store_true", help=(
        "Perl's core modules' manual pages as HTML (pod2html) instead"))
    ap.add_argument("--readmes", action="store_true", help=(
        "READMEs, FAQs and notes of /usr/share/doc (Markdown and plain text) instead"))
    ap.add_argument("--max-words", type=int, default=4000, help=(
        "--other-html, --perl, --readmes: longest page taken (Node.js's API pages run to 50,000 words)"))
    args = ap.parse_args()
    for p in write(args.out, args.pages, args.seed, args.man, args.other_html, args.max_words,
                   args.perl, args.readmes):
        print(p)


if __name__ == "__main__":
    main()
