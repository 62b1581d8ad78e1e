"""Polling until something holds, up to a deadline: the image tests, the bench and the guests of
`nox -s vms` all wait this way (never a sleep standing in for readiness). Standard library
only: the guests copy it beside their runner."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")

POLL_SECONDS = 0.2


@dataclass(frozen=True)
class Clock:
    """Time as a poll sees it; tests of the polls pass one that only moves when slept on."""

    now: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep


REAL_TIME = Clock()


def poll(
    read: Callable[[], T],
    done: Callable[[T], bool],
    seconds: float,
    clock: Clock = REAL_TIME,
    interval: float = POLL_SECONDS,
) -> T:
    """Reads until `done` holds of the reading or `seconds` have passed, and returns the last
    reading either way, so that the caller's assertion can show what was seen."""
    deadline = clock.now() + seconds
    while True:
        reading = read()
        left = deadline - clock.now()
        if done(reading) or left <= 0:
            return reading
        clock.sleep(min(interval, left))
