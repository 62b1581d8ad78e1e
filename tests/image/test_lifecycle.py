"""Graceful shutdown on SIGTERM, a quick stop when idle, and workers that come back."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from bake.platforms import engine_platform
from tests.image.conftest import PROBE_APP, ChildImages
from tests.image.server import Manager, serve


def _expect_qemu_hang_after_uvicorns_stop(request: pytest.FixtureRequest, manager: Manager, platform: str) -> None:
    """Uvicorn re-raises SIGTERM after its shutdown. As PID 1 the kernel ignores it and the
    process exits 0, but QEMU's user-mode emulation waits forever for that signal to kill it,
    so the stop ends in Docker's SIGKILL there."""
    if manager.name == "uvicorn" and platform != engine_platform():
        request.applymarker(pytest.mark.xfail(reason="QEMU hangs when PID 1 re-raises SIGTERM", strict=True))


@pytest.mark.every_platform
def test_sigterm_finishes_requests_in_flight_and_refuses_new_ones(
    child_images: ChildImages, platform: str, manager: Manager, request: pytest.FixtureRequest
) -> None:
    _expect_qemu_hang_after_uvicorns_stop(request, manager, platform)
    child = child_images.build(platform, {"main.py": PROBE_APP})
    # One worker: with several, Uvicorn's supervisor keeps the listening socket open until
    # they have all exited (see the README), so only Gunicorn would refuse new connections.
    # GRACEFUL_TIMEOUT below the stop timeout (docker stop -t 30), as docs/production.md advises.
    env = {"WEB_CONCURRENCY": "1", "PROCESS_MANAGER": manager.name, "GRACEFUL_TIMEOUT": "20"}
    with serve(child, platform, env=env) as server, ThreadPoolExecutor(max_workers=2) as pool:
        slow = pool.submit(requests.get, server.url(path="/slow?seconds=4"), timeout=60)
        server.wait_for_log(r"probe: slow request started")
        wrapped = server.container.get_wrapped_container()
        signalled = time.monotonic()
        stopping = pool.submit(wrapped.stop, timeout=30)
        server.wait_for_log(r"Waiting for connections to close")
        attempted = time.monotonic()
        with pytest.raises(requests.ConnectionError):
            requests.get(server.url(), timeout=5)
        refused_in = time.monotonic() - attempted
        response = slow.result(timeout=60)
        stopping.result(timeout=90)
        stopped_in = time.monotonic() - signalled
        exit_code = wrapped.wait(timeout=30)["StatusCode"]
    assert response.status_code == 200
    assert response.json() == {"slept": 4.0}
    assert exit_code == 0
    assert refused_in < 1, f"a new connection took {refused_in:.2f} s to be refused"
    assert stopped_in < 20, f"the stop took {stopped_in:.1f} s"  # the request's 4 s, not a timeout


def test_a_request_longer_than_graceful_timeout_ends_the_stop_before_the_orchestrators_kill(
    child_images: ChildImages, platform: str, manager: Manager, request: pytest.FixtureRequest
) -> None:
    """GRACEFUL_TIMEOUT (3 s) below the stop timeout (30 s): the server cuts the request off
    and exits by itself, with 0, long before Docker (or Kubernetes) would send SIGKILL."""
    _expect_qemu_hang_after_uvicorns_stop(request, manager, platform)
    child = child_images.build(platform, {"main.py": PROBE_APP})
    env = {"WEB_CONCURRENCY": "1", "PROCESS_MANAGER": manager.name, "GRACEFUL_TIMEOUT": "3"}
    with serve(child, platform, env=env) as server, ThreadPoolExecutor(max_workers=1) as pool:
        slow = pool.submit(requests.get, server.url(path="/slow?seconds=60"), timeout=90)
        server.wait_for_log(r"probe: slow request started")
        wrapped = server.container.get_wrapped_container()
        signalled = time.monotonic()
        wrapped.stop(timeout=30)
        stopped_in = time.monotonic() - signalled
        exit_code = wrapped.wait(timeout=30)["StatusCode"]
        try:
            outcome: object = slow.result(timeout=30).status_code
        except requests.ConnectionError:
            outcome = "connection closed"
    assert exit_code == 0
    assert 3 <= stopped_in < 15, f"the stop took {stopped_in:.1f} s"
    # Gunicorn kills the worker; Uvicorn cancels the request's task and answers 500.
    assert outcome == ("connection closed" if manager.name == "gunicorn" else 500)


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
        answers = {requests.get(server.url(), timeout=10).status_code for _ in range(10)}
        assert server.worker_count() == 2
    assert answers == {200}
