"""The README and docs/ stay runnable: every `tuneline ...` command they show parses, the
configs and files they name exist, and their links resolve."""

import re
import shlex
from pathlib import Path

import pytest

from tuneline_app.cli import build_parser

ROOT = Path(__file__).parents[1]
PAGES = [ROOT / "README.md", ROOT / "RELIABILITY.md", *sorted((ROOT / "docs").glob("*.md"))]


def shell_lines(text: str) -> list[str]:
    """The lines of the page's fenced bash/sh blocks (fences paired line by line)."""
    out, lang = [], None
    for line in text.splitlines():
        if line.startswith("```"):
            lang = None if lang is not None else (line[3:].strip() or "text")
        elif lang in ("bash", "sh", "console"):
            out.append(line)
    return out


def shown_commands() -> list[tuple[str, list[str]]]:
    found = []
    for page in PAGES:
        for line in shell_lines(page.read_text()):
            line = line.split(" #")[0].strip().rstrip("&").strip()
            m = re.match(r"(?:\S*/)?tuneline (.*)", line)
            if m:
                found.append((f"{page.name}: {line}", shlex.split(m.group(1))))
    return found


COMMANDS = shown_commands()


def test_the_pages_show_the_main_commands():
    shown = {argv[0] for _, argv in COMMANDS}
    assert {"run", "params", "lineage", "models", "serve", "schedule", "stack"} <= shown, shown


@pytest.mark.parametrize("where,argv", COMMANDS, ids=[w for w, _ in COMMANDS])
def test_each_shown_command_parses_and_names_files_that_exist(where, argv):
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:
        pytest.fail(f"{where}: does not parse (exit {e.code})")
    for name in ("config", "recipe"):
        value = getattr(args, name, None)
        if value and not value.startswith(("/", "~", "CONFIG", "RUN")):
            assert (ROOT / value).exists(), f"{where}: {value} does not exist"


def test_links_between_pages_resolve():
    for page in PAGES:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text()):
            if not target.startswith(("http://", "https://")):
                assert (page.parent / target).exists(), f"{page.name}: link to {target}"
