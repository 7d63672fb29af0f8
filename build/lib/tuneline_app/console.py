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
    log = open(log_path, "ab")
    lock = threading.Lock()
    saved, readers = [], []
    for fd in (1, 2):
        terminal = os.dup(fd)
        read_end, write_end = os.pipe()
        os.dup2(write_end, fd)
        os.close(write_end)
        saved.append((fd, terminal))
        readers.append(threading.Thread(target=_pump, args=(read_end, terminal, log, lock, keep),
                                        daemon=True))
        readers[-1].start()
    try:
        yield log_path
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        for fd, terminal in saved:
            os.dup2(terminal, fd)  # drops this process's hold on the pipe: its reader ends
        for reader in readers:
            # a child that outlives the run (none should) keeps its pipe open: don't wait
            reader.join(timeout=5)
        for _, terminal in saved:
            os.close(terminal)
        with lock:
            log.close()


def _pump(read_end: int, terminal: int, log, lock: threading.Lock,
          keep: Callable[[str], bool]) -> None:
    """Copy a pipe into the log; the lines `keep` accepts also to the terminal (same stream)."""
    rest = b""
    while chunk := os.read(read_end, 1 << 16):
        with lock:
            if not log.closed:
                log.write(chunk)
                log.flush()
        *lines, rest = re.split(rb"[\r\n]", rest + chunk)
        for raw in lines:
            line = ANSI.sub("", raw.decode(errors="replace"))
            if line.strip() and keep(line):
                os.write(terminal, (line.strip() + "\n").encode())
    os.close(read_end)
