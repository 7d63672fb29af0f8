"""A quiet terminal for long runs: everything goes to a log file, the terminal sees progress.

A 10-minute run prints hundreds of lines (Comet banners, progress bars, model reprs and
third-party warnings) that bury what matters. `quiet(log)` sends everything this process
and its children write to file descriptors 1 and 2 into `log`, and lets through to the
terminal only the lines `keep` accepts. `--verbose` skips it.
"""

from __future__ import annotations

import os
import re
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# ZenML's progress lines, and tuneline's own
PROGRESS = re.compile(r"^(tuneline:|Step \S+ has (started|finished|failed)|Using cached version of step|"
                      r"Pipeline run has (finished|failed)|Initiating a new run)")


def progress_line(line: str) -> bool:
    return bool(PROGRESS.match(line.strip()))


@contextmanager
def quiet(log_path: Path, keep: Callable[[str], bool] = progress_line) -> Iterator[Path]:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    terminal, terminal_err = os.dup(1), os.dup(2)
    read_end, write_end = os.pipe()
    os.dup2(write_end, 1)
    os.dup2(write_end, 2)
    os.close(write_end)

    def pump() -> None:
        rest = b""
        with open(log_path, "ab") as log:
            while chunk := os.read(read_end, 1 << 16):
                log.write(chunk)
                log.flush()
                *lines, rest = re.split(rb"[\r\n]", rest + chunk)
                for raw in lines:
                    line = ANSI.sub("", raw.decode(errors="replace"))
                    if line.strip() and keep(line):
                        os.write(terminal, (line.strip() + "\n").encode())

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        yield log_path
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(terminal, 1)  # drops this process's hold on the pipe: the reader sees its end
        os.dup2(terminal_err, 2)
        # a child that outlives the run (none should) keeps the pipe open: don't wait for it
        reader.join(timeout=5)
        os.close(terminal)
        os.close(terminal_err)
