"""MAX_REQUESTS and MAX_REQUESTS_JITTER: each worker is replaced within a fixed margin of its
own limit, whatever the request rate, and no request fails."""

from __future__ import annotations

import re
from collections import Counter

import pytest
import requests

from bake.paths import REPO_ROOT
from tests.conftest import PROBE_APP, ChildImages
from tests.image.load import NO_HEALTHCHECK, Load
from tests.image.server import http_ready, serve

WORKERS = 3
MAX_REQUESTS = 50
JITTER = 25
CLIENTS = 8
REQUESTS_PER_CLIENT = 500
# The documented margin: past its limit-th request a worker takes at most one more request on
# each other connection it holds open, and a client holds one connection at a time.
MARGIN = CLIENTS - 1
TAKEN = re.compile(r"\[(\d+)\] \[INFO\] Request limit of (\d+) taken")
RECYCLED = re.compile(r"\[(\d+)\] \[INFO\] Recycled after (\d+) requests \(limit (\d+)\)")
SAMPLE_APP = REPO_ROOT / "common" / "app" / "main.py"
READY = re.compile(r"^probe: ready asked of (\d+)$", re.MULTILINE)
LIFESPAN_SHUTDOWN = re.compile(r"^lifespan app: shutdown sent to (\d+)$", re.MULTILINE)
# The sample application, whose lifespan this one passes on, saying which worker is told to shut down.
NOTING_LIFESPAN_APP = """\
import os

from sample import app as sample


async def app(scope, receive, send):
    async def receive_noted():
        message = await receive()
        if message["type"] == "lifespan.shutdown":
            print(f"lifespan app: shutdown sent to {os.getpid()}", flush=True)
        return message

    await sample(scope, receive_noted if scope["type"] == "lifespan" else receive, send)
"""


@pytest.mark.parametrize("worker_class", ["uvicorn_worker.UvicornWorker", "uvicorn_worker.UvicornH11Worker"])
def test_each_worker_is_replaced_within_a_margin_of_its_limit(
    child_images: ChildImages, platform: str, worker_class: str
) -> None:
    child = child_images.build(platform, {"main.py": PROBE_APP})
    env = {
        "WEB_CONCURRENCY": str(WORKERS),
        "MAX_REQUESTS": str(MAX_REQUESTS),
        "MAX_REQUESTS_JITTER": str(JITTER),
        "WORKER_CLASS": worker_class,
        "ACCESS_LOG": "",
    }
    with serve(child, platform, env=env, ready=http_ready(path="/ready"), options=NO_HEALTHCHECK) as server:
        load = Load()
        load.run(server, CLIENTS, REQUESTS_PER_CLIENT)
        # Only workers alive at the end may not have reached their limit; every other one
        # says so when it has drained.
        server.wait_for_log(RECYCLED.pattern, times=len(load.pids) - WORKERS)
        settings = server.settings()
        logs = server.logs()
    assert (settings["max_requests"], settings["max_requests_jitter"]) == (MAX_REQUESTS, JITTER)
    assert settings["worker_class"] == worker_class
    assert load.errors == []
    assert load.statuses == {200: CLIENTS * REQUESTS_PER_CLIENT}
    # The bound every worker keeps, whether or not it reached its limit.
    assert max(load.pids.values()) <= MAX_REQUESTS + JITTER + MARGIN, load.pids
    recycled = {int(pid): (int(served), int(limit)) for pid, served, limit in RECYCLED.findall(logs)}
    assert all(MAX_REQUESTS <= limit <= MAX_REQUESTS + JITTER for _, limit in recycled.values()), recycled
    assert all(limit <= served <= limit + MARGIN for served, limit in recycled.values()), recycled
    # A worker's own count is the clients' count and the readiness checks it took: however many
    # the wait sent (one that timed out on a slow host is sent again, and both are served).
    readiness = Counter(int(pid) for pid in READY.findall(logs))
    assert readiness, "the readiness checks reached no worker"
    uncounted = {pid: served - load.pids[pid] for pid, (served, _) in recycled.items()}
    assert uncounted == {pid: readiness[pid] for pid in recycled}, (uncounted, readiness)
    assert len(TAKEN.findall(logs)) >= len(recycled)
    # The jitter: workers do not all restart after the same number of requests.
    assert len({limit for _, limit in recycled.values()}) >= 4, recycled
    assert "Traceback" not in logs
    assert "Error while closing socket" not in logs  # uvloop's close and Gunicorn's, once each
    past = Counter(served - limit for served, limit in recycled.values())
    print(f"{worker_class}: {len(recycled)} workers recycled; requests past the limit: {dict(sorted(past.items()))}")


def test_without_max_requests_workers_live_on(child_images: ChildImages, platform: str) -> None:
    """The default, as in Gunicorn: 0, no recycling."""
    child = child_images.build(platform, {"main.py": PROBE_APP})
    with serve(child, platform, env={"WEB_CONCURRENCY": "2", "ACCESS_LOG": ""}) as server:
        workers = set(server.worker_pids())
        load = Load()
        load.run(server, CLIENTS, REQUESTS_PER_CLIENT)
        workers_after = set(server.worker_pids())
        logs = server.logs()
    assert load.errors == []
    assert load.statuses == {200: CLIENTS * REQUESTS_PER_CLIENT}
    assert len(workers) == 2
    assert set(load.pids) <= workers, (load.pids, workers)
    assert workers_after == workers
    assert "Request limit" not in logs
    assert "Maximum request limit" not in logs


def test_a_recycled_worker_runs_the_applications_lifespan_shutdown(child_images: ChildImages, platform: str) -> None:
    """A worker that has drained shuts down without Uvicorn's pause, but still through the
    application's own shutdown."""
    child = child_images.build(platform, {"main.py": NOTING_LIFESPAN_APP, "sample.py": SAMPLE_APP.read_text()})
    env = {"WEB_CONCURRENCY": "1", "MAX_REQUESTS": "5", "ACCESS_LOG": ""}
    with serve(child, platform, env=env, options=NO_HEALTHCHECK) as server:
        with requests.Session() as session:
            answered = [session.get(server.url(), timeout=server.deadline()) for _ in range(12)]
        server.wait_for_log(LIFESPAN_SHUTDOWN.pattern, times=2)
        logs = server.logs()
    assert {answer.status_code for answer in answered} == {200}
    recycled = {int(pid) for pid, _, _ in RECYCLED.findall(logs)}
    assert len(recycled) >= 2, logs
    assert recycled <= {int(pid) for pid in LIFESPAN_SHUTDOWN.findall(logs)}, logs
    assert "Traceback" not in logs
