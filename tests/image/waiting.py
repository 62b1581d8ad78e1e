"""Waiting for what a test awaits: poll until it holds, up to a deadline derived from what is
awaited and where it runs (the polling itself is devtools/polling.py). Nothing here stands in
for readiness by sleeping; a deadline is only ever waited out by a test that fails. Plain
Python, so that tests/unit checks it."""

from __future__ import annotations

import re

# Under QEMU a cold start of several workers takes tens of seconds.
STARTUP_TIMEOUT_SECONDS = 180
# Each worker past the first: Gunicorn forks them one after another and each imports the
# application, so a host with many CPUs (so many workers) takes that much longer.
SECONDS_PER_WORKER = 10
# QEMU's user-mode emulation runs the image's Python several times slower than natively.
EMULATION_SLOWDOWN = 5


def slowdown(emulated: bool) -> int:
    return EMULATION_SLOWDOWN if emulated else 1


def startup_deadline(emulated: bool, workers: int = 1) -> float:
    """Seconds a start of `workers` workers may take: the time to a first answer, then each
    further worker's, all of it longer under emulation."""
    return STARTUP_TIMEOUT_SECONDS + max(workers - 1, 0) * SECONDS_PER_WORKER * slowdown(emulated)


def count_matches(pattern: str, text: str) -> int:
    """How many times `pattern`, a regular expression whose ^ and $ match at each line, occurs in `text`."""
    return len(re.findall(pattern, text, re.MULTILINE))
