"""Graceful shutdown on SIGTERM, a quick stop when idle, and workers that come back."""

from __future__ import annotations

import signal
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
import requests

from tests.conftest import PROBE_APP, ChildImages
from tests.image.server import Manager, Server, engine_time, serve

STOP_TIMEOUT_SECONDS = 30  # docker stop -t 30: then the engine sends SIGKILL
SIGKILLED = 128 + signal.SIGKILL


@dataclass(frozen=True)
class Stop:
    exit_code: int
    seconds: float  # from SIGTERM until the container had exited
    last_line_in: float  # from SIGTERM to the server's last line, by the engine's clock
    logs: str


def _stop(server: Server) -> Stop:
    """docker stop -t 30, timed; then the exit code and everything the server logged."""
    wrapped = server.container.get_wrapped_container()
    signalled_at, signalled = datetime.now(UTC), time.monotonic()  # the host's clocks, the engine's too
    wrapped.stop(timeout=STOP_TIMEOUT_SECONDS)
    seconds = time.monotonic() - signalled
    exit_code = wrapped.wait(timeout=30)["StatusCode"]
    last_line = wrapped.logs(timestamps=True).decode().splitlines()[-1]
    last_line_in = (engine_time(last_line.partition(" ")[0]) - signalled_at).total_seconds()
    return Stop(exit_code, seconds, last_line_in, server.logs())


def _hangs_after_uvicorns_stop(manager: Manager, server: Server) -> bool:
    """Uvicorn re-raises SIGTERM after its shutdown. As PID 1 the kernel ignores it and the
    process exits 0, but QEMU's user-mode emulation waits forever for that signal to kill it,
    so the stop ends in Docker's SIGKILL there."""
    return manager.name == "uvicorn" and server.emulated


def _assert_stopped_by_itself(stop: Stop, manager: Manager, server: Server, within: float) -> None:
    """Exit 0 within `within` seconds of SIGTERM; under QEMU, Uvicorn's known hang instead: its
    shutdown done, and its last line logged, within `within` seconds, then nothing until the
    engine's SIGKILL."""
    if _hangs_after_uvicorns_stop(manager, server):
        assert stop.logs.splitlines()[-1].endswith("Finished server process [1]"), stop.logs
        assert stop.last_line_in < within, f"the shutdown took {stop.last_line_in:.1f} s"
        assert stop.exit_code == SIGKILLED, stop
        assert stop.seconds >= STOP_TIMEOUT_SECONDS, stop
        return
    assert stop.exit_code == 0, stop.logs
    assert stop.seconds < within, f"the stop took {stop.seconds:.1f} s"


@pytest.mark.every_platform
def test_sigterm_finishes_requests_in_flight_and_refuses_new_ones(
    child_images: ChildImages, platform: str, manager: Manager
) -> None:
    child = child_images.build(platform, {"main.py": PROBE_APP})
    # One worker: with several, Uvicorn's supervisor keeps the listening socket open until
    # they have all exited (see the README), so only Gunicorn would refuse new connections.
    # GRACEFUL_TIMEOUT below the stop timeout (docker stop -t 30), as docs/production.md advises.
    env = {"WEB_CONCURRENCY": "1", "PROCESS_MANAGER": manager.name, "GRACEFUL_TIMEOUT": "20"}
    with serve(child, platform, env=env) as server, ThreadPoolExecutor(max_workers=2) as pool:
        slow = pool.submit(requests.get, server.url(path="/slow?seconds=4"), timeout=60)
        server.wait_for_log(r"probe: slow request started")
        stopping = pool.submit(_stop, server)
        server.wait_for_log(r"Waiting for connections to close")
        attempted = time.monotonic()
        with pytest.raises(requests.ConnectionError):
            requests.get(server.url(), timeout=5)
        refused_in = time.monotonic() - attempted
        response = slow.result(timeout=60)
        stop = stopping.result(timeout=90)
    assert response.status_code == 200
    assert response.json() == {"slept": 4.0}
    assert refused_in < 1, f"a new connection took {refused_in:.2f} s to be refused"
    _assert_stopped_by_itself(stop, manager, server, within=20)  # the request's 4 s, not a timeout


def test_a_request_longer_than_graceful_timeout_ends_the_stop_before_the_orchestrators_kill(
    child_images: ChildImages, platform: str, manager: Manager
) -> None:
    """GRACEFUL_TIMEOUT (3 s) below the stop timeout (30 s): the server cuts the request off
    and exits by itself, with 0, long before Docker (or Kubernetes) would send SIGKILL."""
    child = child_images.build(platform, {"main.py": PROBE_APP})
    env = {"WEB_CONCURRENCY": "1", "PROCESS_MANAGER": manager.name, "GRACEFUL_TIMEOUT": "3"}
    with serve(child, platform, env=env) as server, ThreadPoolExecutor(max_workers=1) as pool:
        slow = pool.submit(requests.get, server.url(path="/slow?seconds=60"), timeout=90)
        server.wait_for_log(r"probe: slow request started")
        stop = _stop(server)
        try:
            outcome: object = slow.result(timeout=30).status_code
        except requests.ConnectionError:
            outcome = "connection closed"
    assert stop.last_line_in >= 3, (
        f"the server was done {stop.last_line_in:.1f} s after SIGTERM: before GRACEFUL_TIMEOUT"
    )
    _assert_stopped_by_itself(stop, manager, server, within=15)
    # Gunicorn kills the worker; Uvicorn cancels the request's task and answers 500, but under
    # QEMU its loop has ended before the answer is written, and the connection closes with the SIGKILL.
    answered = manager.name == "uvicorn" and not _hangs_after_uvicorns_stop(manager, server)
    assert outcome == (500 if answered else "connection closed")


def test_idle_stop_takes_seconds_not_the_graceful_timeout(child_images: ChildImages, platform: str) -> None:
    child = child_images.build(platform, {"main.py": PROBE_APP})
    with serve(child, platform, env={"GRACEFUL_TIMEOUT": "120"}) as server:
        wrapped = server.container.get_wrapped_container()
        started = time.monotonic()
        wrapped.stop(timeout=120)
        seconds = time.monotonic() - started
        exit_code = wrapped.wait(timeout=30)["StatusCode"]
    assert exit_code == 0
    assert seconds < 30, f"an idle container took {seconds:.1f} s to stop"


def test_killed_worker_is_replaced(child_images: ChildImages, platform: str, manager: Manager) -> None:
    child = child_images.build(platform, {"main.py": PROBE_APP})
    with serve(child, platform, env={"WEB_CONCURRENCY": "2", "PROCESS_MANAGER": manager.name}) as server:
        server.wait_for_log(manager.worker_started, times=2)
        victim = requests.get(server.url(), timeout=10).json()["pid"]
        server.python(f"import os, signal; os.kill({victim}, signal.SIGKILL)")
        server.wait_for_log(manager.worker_started, times=3)
        assert server.worker_count_once_settled(2) == 2, server.processes()
        workers = server.worker_pids()
        answers = {requests.get(server.url(), timeout=10).status_code for _ in range(10)}
    assert victim not in workers
    assert answers == {200}
