"""The one way the build system and its tools talk: progress, notices and errors go to standard
error, one whole line at a time even from threads; what a command produces (a tag list, a plan,
a JSON line) goes to standard output. Standard library only."""

from __future__ import annotations

import sys
import threading

_LOCK = threading.Lock()


def say(line: str) -> None:
    """A progress line or a notice, on standard error."""
    with _LOCK:
        sys.stderr.write(f"{line}\n")
        sys.stderr.flush()


def report_error(line: str) -> None:
    say(f"error: {line}")


def emit(text: str) -> None:
    """What a command produces, on standard output: `text` and a newline."""
    with _LOCK:
        sys.stdout.write(f"{text}\n")
        sys.stdout.flush()
