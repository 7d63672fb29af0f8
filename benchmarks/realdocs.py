"""A folder of real documentation pages nobody on this project wrote, for real runs.

The kept-pair precision of a curation change is read on what the product produces from
documents like a user's: HTML manual pages and plain-text reference topics. This writes
such a folder from text that ships on the machine (nothing is downloaded or committed):
- the libffi manual's HTML pages (Debian's libffi8 package, /usr/share/doc/libffi8/html);
- Python's language-reference topics (`pydoc_data.topics`, shipped with CPython), as .txt;
- the Rust toolchain's HTML FAQs when rustup installed them.
A seeded choice of pages; `--seed` picks another set, so a change can be checked on pages it
was not tuned on.

    python benchmarks/realdocs.py OUT_DIR [--pages 20] [--seed 0]
    tuneline run configs/dataset.yaml --set parameters.raw_dir=OUT_DIR
"""

from __future__ import annotations

import argparse
import glob
import os
import random
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


def write(out: str, pages: int = 20, seed: int = 0) -> list[str]:
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
    args = ap.parse_args()
    for p in write(args.out, args.pages, args.seed):
        print(p)


if __name__ == "__main__":
    main()
