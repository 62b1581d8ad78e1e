"""MAX_WORKER_MEMORY_MB: a worker whose PSS goes above the ceiling (the probe application leaks
on purpose) is replaced as a worker at its request limit is: one warning line naming it, its
size and the ceiling, then drained, and no request fails. A worker below the ceiling lives on."""

from __future__ import annotations

import http.client
import json
import re
from dataclasses import dataclass, field

import pytest

from devtools.polling import poll
from tests.conftest import PROBE_APP, ChildImages
from tests.image.load import NO_HEALTHCHECK, Load
from tests.image.server import Server, serve

WORKERS = 2
# Well above a fresh worker's PSS (about 10 MiB natively, 35 MiB under QEMU, whose own memory
# the emulated worker's counts), so that only the leak takes a worker above it.
CEILING_MIB = 200
LEAK_MIB = 16
CLIENTS = 4
# Answers the load must get after the replacement, so that it runs across it.
ANSWERS_AFTER = 200
WARNING = re.compile(
    r"\[(\d+)\] \[WARNING\] Worker (\d+) uses ([0-9.]+) MiB \(PSS\), above MAX_WORKER_MEMORY_MB=(\d+):"
    r" accepting no more connections, to be replaced\.$",
    re.MULTILINE,
)
RECYCLED = r"\[{pid}\] \[INFO\] Recycled after \d+ requests \(memory above its ceiling\)\.$"


@dataclass
class Leaker:
    """One keep-alive connection that makes the worker at its other end leak: the answers it
    got, and that worker's pid."""

    server: Server
    statuses: list[int] = field(default_factory=list)
    pid: int = 0
    leaked_mib: int = 0

    def __post_init__(self) -> None:
        host, port = self.server.container.get_container_host_ip(), int(self.server.container.get_exposed_port(80))
        self.connection = http.client.HTTPConnection(host, port, timeout=self.server.deadline())

    def _step(self) -> bool:
        """Leaks LEAK_MIB more until the worker holds CEILING_MIB of leak (its PSS is more: the
        leak is on top of the worker itself), then only asks for /; whether the answer said
        `Connection: close`, as the worker's answers do once it found itself above its ceiling."""
        leaking = self.leaked_mib < CEILING_MIB
        self.connection.request("GET", f"/leak?mib={LEAK_MIB}" if leaking else "/")
        response = self.connection.getresponse()
        body = json.loads(response.read())
        self.statuses.append(response.status)
        assert self.pid in (0, body["pid"]), "a keep-alive connection changed workers"
        self.pid = body["pid"]
        self.leaked_mib = body.get("leaked_mib", self.leaked_mib)
        return bool(response.getheader("connection", "").lower() == "close")

    def until_closed(self) -> bool:
        """Steps until an answer says `Connection: close`, at most until the deadline; whether one did."""
        closed = poll(self._step, lambda closing: closing, self.server.deadline(), interval=0.05)
        self.connection.close()
        return closed


@pytest.mark.parametrize(
    ("worker_class", "max_requests"),
    [
        pytest.param("uvicorn_worker.UvicornWorker", None, marks=pytest.mark.every_platform, id="UvicornWorker"),
        # With a request limit it never reaches: the two work together, the ceiling acts.
        pytest.param("uvicorn_worker.UvicornH11Worker", "1000000", id="UvicornH11Worker+MAX_REQUESTS"),
    ],
)
def test_a_worker_above_its_ceiling_is_replaced_without_a_failed_request(
    child_images: ChildImages, platform: str, worker_class: str, max_requests: str | None
) -> None:
    child = child_images.build(platform, {"main.py": PROBE_APP})
    env = {
        "WEB_CONCURRENCY": str(WORKERS),
        "MAX_WORKER_MEMORY_MB": str(CEILING_MIB),
        "WORKER_CLASS": worker_class,
        "ACCESS_LOG": "",
        **({"MAX_REQUESTS": max_requests} if max_requests else {}),
    }
    with serve(child, platform, env=env, options=NO_HEALTHCHECK) as server:
        assert server.worker_count_once_settled(WORKERS) == WORKERS
        first = set(server.worker_pids())
        load = Load()
        clients = load.start(server, CLIENTS)
        try:
            leaker = Leaker(server)
            closed = leaker.until_closed()
            server.wait_for_log(RECYCLED.format(pid=leaker.pid))
            workers = poll(
                server.worker_pids,
                lambda pids: leaker.pid not in pids and len(pids) == WORKERS,
                server.deadline(WORKERS),
            )
            answered = load.answered()
            poll(load.answered, lambda count: count >= answered + ANSWERS_AFTER, server.deadline())
        finally:
            load.stop.set()
            load.join(clients)
        settings = server.settings()
        logs = server.logs()
    assert settings["max_worker_memory_mb"] == CEILING_MIB
    assert closed, f"worker {leaker.pid} never answered `Connection: close`:\n{logs}"
    # One line, at warning level, from the worker itself, naming it, its size and the ceiling.
    warnings = [
        (int(logged), int(named), float(size), int(ceiling)) for logged, named, size, ceiling in WARNING.findall(logs)
    ]
    assert len(warnings) == 1, logs
    [(logged_by, named, size, ceiling)] = warnings
    assert logged_by == named == leaker.pid
    assert ceiling == CEILING_MIB
    assert size >= CEILING_MIB
    # It was replaced; the worker below the ceiling was not.
    assert leaker.pid in first and leaker.pid not in workers
    assert len(workers) == WORKERS and (first - {leaker.pid}) <= set(workers), (first, workers)
    # No request failed: the leaker's, nor the load's running across the replacement.
    assert set(leaker.statuses) == {200}
    assert load.errors == []
    assert set(load.statuses) == {200}
    assert load.answered() >= answered + ANSWERS_AFTER
    assert "Request limit" not in logs and "Maximum request limit" not in logs
    assert "Traceback" not in logs
    assert "Error while closing socket" not in logs
    print(f"{worker_class}: worker {leaker.pid} replaced at {size} MiB; {load.answered()} answers to the load")


def test_a_worker_that_does_not_leak_lives_on(child_images: ChildImages, platform: str) -> None:
    """Under the ceiling, workers serve on; the settings line shows the ceiling."""
    child = child_images.build(platform, {"main.py": PROBE_APP})
    env = {"WEB_CONCURRENCY": str(WORKERS), "MAX_WORKER_MEMORY_MB": str(CEILING_MIB), "ACCESS_LOG": ""}
    with serve(child, platform, env=env, options=NO_HEALTHCHECK) as server:
        assert server.worker_count_once_settled(WORKERS) == WORKERS
        first = set(server.worker_pids())
        load = Load()
        load.run(server, CLIENTS, 500)
        after = set(server.worker_pids())
        settings = server.settings()
        logs = server.logs()
    assert settings["max_worker_memory_mb"] == CEILING_MIB
    assert load.errors == [] and set(load.statuses) == {200}
    assert after == first
    assert WARNING.search(logs) is None
