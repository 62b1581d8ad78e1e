"""The image tests' waits (tests/image/waiting.py, tests/image/server.py), against a clock that
moves only when slept on and a container made up of its logs: no engine, no real time."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import cast

import pytest
from testcontainers.core.container import DockerContainer

from devtools.polling import Clock, poll
from tests.image.server import Server, cpu_quota, usable_cpus
from tests.image.waiting import (
    EMULATION_SLOWDOWN,
    SECONDS_PER_WORKER,
    STARTUP_TIMEOUT_SECONDS,
    count_matches,
    startup_deadline,
)

BOOTED = "[INFO] Booting worker with pid: {}\n"


@dataclass
class FakeTime:
    now: float = 0.0
    slept: list[float] = field(default_factory=list)

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds

    @property
    def clock(self) -> Clock:
        return Clock(lambda: self.now, self.sleep)


def test_poll_returns_the_first_reading_that_is_done() -> None:
    time = FakeTime()
    readings = iter(range(10))
    assert poll(lambda: next(readings), lambda value: value == 3, 60, time.clock, interval=0.5) == 3
    assert time.slept == [0.5, 0.5, 0.5]


def test_poll_gives_up_at_the_deadline_with_the_last_reading() -> None:
    time = FakeTime()
    readings = iter(range(1000))
    assert poll(lambda: next(readings), lambda value: value < 0, 2, time.clock, interval=0.5) == 4
    assert time.now == 2


def test_poll_reads_once_more_at_the_deadline() -> None:
    """The last sleep is cut to the deadline, and what holds then still counts."""
    time = FakeTime()
    seen: list[float] = []

    def read() -> float:
        seen.append(time.now)
        return time.now

    assert poll(read, lambda now: now >= 1, 1, time.clock, interval=0.3) == 1
    assert seen == pytest.approx([0, 0.3, 0.6, 0.9, 1.0])


def test_the_start_up_deadline_grows_with_the_workers_and_under_emulation() -> None:
    assert startup_deadline(emulated=False) == STARTUP_TIMEOUT_SECONDS
    assert startup_deadline(emulated=False, workers=0) == STARTUP_TIMEOUT_SECONDS
    assert startup_deadline(emulated=False, workers=65) == STARTUP_TIMEOUT_SECONDS + 64 * SECONDS_PER_WORKER
    emulated = startup_deadline(emulated=True, workers=65)
    assert emulated == STARTUP_TIMEOUT_SECONDS + 64 * SECONDS_PER_WORKER * EMULATION_SLOWDOWN


def test_matches_are_counted_per_line() -> None:
    logs = BOOTED.format(7) + "other\n" + BOOTED.format(8)
    assert count_matches(r"Booting worker with pid", logs) == 2
    assert count_matches(r"^\[INFO\] Booting", logs) == 2
    assert count_matches(r"pid: 8$", logs) == 1


@dataclass
class Wrapped:
    status: str = "running"

    def reload(self) -> None:
        pass


@dataclass
class GrowingLogs:
    """A container whose server logs one more line at each read, from `lines`; then `status`."""

    lines: list[str]
    status_after: str = "running"
    reads: int = 0
    wrapped: Wrapped = field(default_factory=Wrapped)

    def get_logs(self) -> tuple[bytes, bytes]:
        self.reads += 1
        if self.reads >= len(self.lines):
            self.wrapped.status = self.status_after
        return b"", "".join(self.lines[: self.reads]).encode()

    def get_wrapped_container(self) -> Wrapped:
        return self.wrapped


def _server(container: GrowingLogs, time: FakeTime, emulated: bool = False) -> Server:
    return Server(cast(DockerContainer, container), "linux/amd64", emulated, time.clock)


def test_waiting_for_a_log_line_n_times_waits_for_the_nth() -> None:
    """testcontainers 4.15's LogMessageWaitStrategy takes `times` and returns at the first match."""
    container = GrowingLogs([BOOTED.format(pid) for pid in (7, 8, 9)] + ["[INFO] later\n"])
    logs = _server(container, FakeTime()).wait_for_log(r"Booting worker with pid", times=3)
    assert container.reads == 3
    assert count_matches("Booting worker", logs) == 3


def test_a_log_line_that_does_not_come_n_times_fails_at_the_deadline() -> None:
    time = FakeTime()
    container = GrowingLogs([BOOTED.format(7)] + ["[INFO] other\n"] * 10_000)
    with pytest.raises(AssertionError, match=r"matched 1 of 2 times within 190 s"):
        _server(container, time).wait_for_log(r"Booting worker with pid", times=2)
    assert time.now == startup_deadline(emulated=False, workers=2)


def test_the_default_deadline_is_the_platforms() -> None:
    time = FakeTime()
    container = GrowingLogs(["[INFO] other\n"] * 10_000)
    with pytest.raises(AssertionError):
        _server(container, time, emulated=True).wait_for_log(r"Booting worker with pid", times=3)
    assert time.now == startup_deadline(emulated=True, workers=3)


def test_a_log_wait_ends_when_the_container_stops() -> None:
    time = FakeTime()
    container = GrowingLogs([BOOTED.format(7), "error: something\n"], status_after="exited")
    stopped = r"(?s)matched 1 of 2 times before the container stopped:\n.*error: something"
    with pytest.raises(AssertionError, match=stopped):
        _server(container, time).wait_for_log(r"Booting worker with pid", times=2, seconds=600)
    assert time.now < 1


class CountedWorkers(Server):
    """A server whose worker count is read from a list, one reading per call."""

    def __init__(self, counts: list[int], time: FakeTime) -> None:
        super().__init__(cast(DockerContainer, GrowingLogs([])), "linux/amd64", False, time.clock)
        self.counts = iter(counts)

    def worker_count(self) -> int:
        return next(self.counts)


@pytest.mark.parametrize(
    ("counts", "expected", "settled"),
    [([1, 2, 3, 3], 3, 3), ([0, 1, 1, 2], 2, 2), ([2] + [1] * 10_000, 2, 2), ([3] * 10_000, 2, 3)],
    ids=["rising", "replaced", "already", "too-many"],
)
def test_the_worker_count_is_read_until_it_settles(counts: list[int], expected: int, settled: int) -> None:
    time = FakeTime()
    assert CountedWorkers(counts, time).worker_count_once_settled(expected) == settled
    if settled != expected:
        assert time.now == startup_deadline(emulated=False, workers=expected)


@pytest.mark.parametrize(
    ("files", "quota"),
    [
        (("max 100000", None, None), None),
        (("50000 100000", None, None), 0.5),
        (("250000 100000", "-1", "100000"), 2.5),  # v2 wins where both are there
        ((None, "-1", "100000"), None),
        ((None, "150000", "100000"), 1.5),
        ((None, None, None), None),
    ],
)
def test_the_cpu_quota_of_either_cgroup_version(
    files: tuple[str | None, str | None, str | None], quota: float | None
) -> None:
    assert cpu_quota(*files) == quota


@pytest.mark.parametrize(
    ("affinity", "quota", "cpus"),
    [(64, None, 64), (64, 0.5, 1), (64, 1.5, 2), (2, 8.0, 2), (1, None, 1)],
)
def test_usable_cpus_are_the_affinity_capped_by_the_quota(affinity: int, quota: float | None, cpus: int) -> None:
    assert usable_cpus(affinity, quota) == cpus
