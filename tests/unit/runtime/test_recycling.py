"""A worker's way out, at its request limit or above its memory ceiling: which one starts it,
once, and what Uvicorn's server becomes. The image tests (tests/image/test_recycling.py,
test_memory_ceiling.py) check the draining under load. Needs Uvicorn, which the unit tests' own
environment may not have: skipped there."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import sys
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("uvicorn")

from uvicorn.config import Config
from uvicorn.server import Server
from uvicorn_gunicorn_runtime import recycling
from uvicorn_gunicorn_runtime.recycling import (
    CONNECTION_CLOSE,
    MEMORY_CHECK_SECONDS,
    Recycler,
    RequestLimit,
    drain_before_recycling,
)
from uvicorn_gunicorn_runtime.worker_memory import MemoryCeiling

MIB = 1 << 20
PAGE = os.sysconf("SC_PAGE_SIZE")
CEILING_MIB = 100
REQUEST_LIMIT = 50


async def app(
    scope: dict[str, Any], receive: Callable[[], Awaitable[Any]], send: Callable[[Any], Awaitable[None]]
) -> None:
    pass


def _ceiling(directory: Path, pss_mib: int) -> MemoryCeiling:
    """A ceiling of CEILING_MIB over fake kernel files saying `pss_mib`, RSS above it."""
    (directory / "statm").write_text(f"99999 {(pss_mib + 50) * MIB // PAGE} 1 1 0 1 0\n")
    (directory / "smaps_rollup").write_text(f"Rss: {(pss_mib + 50) * 1024} kB\nPss: {pss_mib * 1024} kB\n")
    return MemoryCeiling(CEILING_MIB, statm=str(directory / "statm"), smaps_rollup=str(directory / "smaps_rollup"))


class Clock:
    """Seconds that pass only when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _recycler(ceiling: MemoryCeiling | None, limit: int = REQUEST_LIMIT, clock: Clock | None = None) -> Recycler:
    """A started server's recycler; unless given a clock, a second has passed since the start,
    so that the memory is checked at once."""
    server = Server(Config(app=app, log_config=None))
    server.servers = []  # what startup would have listening: nothing to stop here
    given = clock or Clock()
    recycler = Recycler(server, limit, [], ceiling, given)
    if clock is None:
        given.now += MEMORY_CHECK_SECONDS
    server.recycler = recycler
    server.server_state = recycler.state
    return recycler


@pytest.fixture
def caplog(caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> pytest.LogCaptureFixture:
    """pytest's, with Uvicorn's server log reaching it at INFO: a Uvicorn logging configuration
    (any earlier Config()) stops it from propagating."""
    monkeypatch.setattr(logging.getLogger("uvicorn.error"), "propagate", True)
    caplog.set_level(logging.INFO, "uvicorn.error")
    return caplog


def _messages(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.levelno == level]


@pytest.fixture
def uvicorns_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Uvicorn's Server as it was, after the test: drain_before_recycling changes the class."""
    for name in ("startup", "shutdown", "on_tick"):
        monkeypatch.setattr(Server, name, getattr(Server, name))
    yield


def test_above_the_ceiling_a_worker_stops_taking_and_says_so_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    recycler = _recycler(_ceiling(tmp_path, pss_mib=150))

    async def check_twice() -> list[bool]:
        return [recycler.memory_exceeded(), recycler.memory_exceeded()]

    assert asyncio.run(check_twice()) == [True, False]
    assert _messages(caplog, logging.WARNING) == [
        f"Worker {os.getpid()} uses 150.0 MiB (PSS), above MAX_WORKER_MEMORY_MB={CEILING_MIB}:"
        " accepting no more connections, to be replaced."
    ]
    assert recycler.state.closing and CONNECTION_CLOSE in recycler.state.default_headers
    assert recycler.leaving()
    recycler.request_limit_taken()  # its request limit, reached while it drains: nothing more
    assert _messages(caplog, logging.INFO) == []


def test_below_the_ceiling_a_worker_stays(tmp_path: Path) -> None:
    recycler = _recycler(_ceiling(tmp_path, pss_mib=CEILING_MIB))
    assert not asyncio.run(_exceeded(recycler))
    assert not recycler.state.closing and not recycler.leaving()


async def _exceeded(recycler: Recycler) -> bool:
    return recycler.memory_exceeded()


def test_a_worker_leaving_for_its_request_limit_is_not_checked(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    recycler = _recycler(_ceiling(tmp_path, pss_mib=150))

    async def limit_then_memory() -> bool:
        recycler.request_limit_taken()
        return recycler.memory_exceeded()

    assert not asyncio.run(limit_then_memory())
    assert _messages(caplog, logging.INFO) == [
        f"Request limit of {REQUEST_LIMIT} taken: accepting no more connections."
    ]
    assert _messages(caplog, logging.WARNING) == []
    assert recycler.memory_kib is None


def test_a_worker_told_to_stop_is_not_checked(tmp_path: Path) -> None:
    recycler = _recycler(_ceiling(tmp_path, pss_mib=150))
    recycler.server.should_exit = True  # SIGTERM: it shuts down at once, without draining
    assert not asyncio.run(_exceeded(recycler))
    assert not recycler.leaving()


def test_unreadable_kernel_files_turn_the_check_off_with_one_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    ceiling = MemoryCeiling(CEILING_MIB, statm=str(tmp_path / "missing"))
    recycler = _recycler(ceiling)
    assert [asyncio.run(_exceeded(recycler)), asyncio.run(_exceeded(recycler))] == [False, False]
    [error] = _messages(caplog, logging.ERROR)
    assert error.startswith("MAX_WORKER_MEMORY_MB is not checked in this worker: [Errno 2]")
    assert recycler.ceiling is None


def test_drained_for_memory_it_says_after_how_many_requests(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    recycler = _recycler(_ceiling(tmp_path, pss_mib=150), limit=sys.maxsize)
    recycler.state.total_requests = 7

    async def exceed_and_drain() -> None:
        recycler.memory_exceeded()
        await recycler.drain()

    asyncio.run(exceed_and_drain())
    assert _messages(caplog, logging.INFO) == ["Recycled after 7 requests (memory above its ceiling)."]


@pytest.mark.usefixtures("uvicorns_server")
def test_the_memory_is_checked_on_uvicorns_tick_once_a_second(tmp_path: Path) -> None:
    """The first time a second after the start; ending the main loop is how the worker starts to leave."""
    below, above = tmp_path / "below", tmp_path / "above"
    below.mkdir()
    above.mkdir()
    ceiling = _ceiling(below, pss_mib=CEILING_MIB)
    drain_before_recycling(ceiling)
    clock = Clock()
    recycler = _recycler(ceiling, clock=clock)

    async def tick_at(*seconds: float) -> list[bool]:
        ended = []
        for second in seconds:
            clock.now = 1000.0 + second
            ended.append(await recycler.server.on_tick(1))
        return ended

    assert asyncio.run(tick_at(0.0, 0.5, 1.0)) == [False, False, False]  # checked at 1.0: below
    # Above it from now on: not checked again before 2.0.
    recycler.ceiling = _ceiling(above, pss_mib=150)
    assert asyncio.run(tick_at(1.1, 1.9, 2.0)) == [False, False, True]
    assert recycler.leaving()


@pytest.mark.usefixtures("uvicorns_server")
def test_without_a_ceiling_uvicorns_tick_is_left_alone() -> None:
    drain_before_recycling(MemoryCeiling(CEILING_MIB))
    drain_before_recycling(None)  # a reload without the ceiling: the last call holds
    assert Server.on_tick is recycling.UVICORNS_TICK
    assert Server.startup is not recycling.UVICORNS_STARTUP


async def _started(limit: int | None) -> Server:
    """A server started on a socket of its own, as a Gunicorn worker starts it with `limit`
    (Gunicorn's worker gives sys.maxsize without max_requests), then shut down."""
    config = Config(app=app, lifespan="off", limit_max_requests=limit, log_config=None)
    config.load()
    server = Server(config)
    server.lifespan = config.lifespan_class(config)
    listener = socket.create_server(("127.0.0.1", 0))
    try:
        await server.startup(sockets=[listener])
        server.should_exit = True  # as on SIGTERM: no draining
        await server.shutdown(sockets=[listener])
    finally:
        listener.close()
    return server


@pytest.mark.usefixtures("uvicorns_server")
@pytest.mark.parametrize(
    ("ceiling", "limit", "recycles", "counts"),
    [
        (True, sys.maxsize, True, False),  # the ceiling alone: no request counting
        (True, REQUEST_LIMIT, True, True),
        (False, REQUEST_LIMIT, True, True),
        (False, sys.maxsize, False, False),  # neither
        (True, None, False, False),  # not a Gunicorn worker's server
    ],
)
def test_what_a_server_is_given_at_startup(
    tmp_path: Path, ceiling: bool, limit: int | None, recycles: bool, counts: bool
) -> None:
    drain_before_recycling(_ceiling(tmp_path, pss_mib=10) if ceiling else None)
    server = asyncio.run(_started(limit))
    recycler = getattr(server, "recycler", None)
    assert (recycler is not None) == recycles
    assert isinstance(server.config.loaded_app, RequestLimit) == counts
    if recycler is not None:
        assert server.server_state is recycler.state
        assert (recycler.ceiling is not None) == ceiling


class Lifespan:
    """The application's lifespan, as far as a shutdown sees it."""

    def __init__(self) -> None:
        self.shut_down = False

    async def shutdown(self) -> None:
        self.shut_down = True


def _leaving_at_its_limit() -> Recycler:
    recycler = _recycler(None)
    recycler.server.lifespan = Lifespan()
    recycler.state.taken = recycler.state.total_requests = REQUEST_LIMIT
    return recycler


@pytest.mark.usefixtures("uvicorns_server")
@pytest.mark.parametrize("left", ["nothing", "a connection", "a request", "SIGTERM"])
def test_a_drained_worker_shuts_down_without_uvicorns_pause(monkeypatch: pytest.MonkeyPatch, left: str) -> None:
    """Uvicorn's own shutdown pauses 0.1 s for what is still open; it runs only when something is."""
    uvicorns: list[Server] = []

    async def uvicorns_shutdown(server: Server, sockets: list[socket.socket] | None = None) -> None:
        uvicorns.append(server)

    monkeypatch.setattr(recycling, "UVICORNS_SHUTDOWN", uvicorns_shutdown)
    monkeypatch.setattr(recycling, "POLL_SECONDS", 0)
    drain_before_recycling(None)
    recycler = _leaving_at_its_limit()
    recycler.server.config.timeout_keep_alive = -1  # the drain's deadline: passed at once
    if left == "a connection":
        recycler.state.connections.add(object())
    elif left == "a request":
        recycler.state.tasks.add(object())
    elif left == "SIGTERM":
        recycler.server.should_exit = True
    asyncio.run(recycler.server.shutdown(sockets=[]))
    drained = left == "nothing"
    assert recycler.drained() == drained
    assert uvicorns == ([] if drained else [recycler.server])
    assert recycler.server.lifespan.shut_down == drained  # Uvicorn's shutdown runs it otherwise
