"""PROMETHEUS_MULTIPROC_DIR: created and emptied at start, dead workers marked, exact totals."""

from __future__ import annotations

import re

import pytest
import requests

from tests.conftest import ChildImages, ImageUnderTest
from tests.image.server import Manager, Server, serve

PROMETHEUS_CLIENT = "prometheus_client==0.26.0"
WORKERS = 3
# Counts its requests to /count (not the tests' readiness requests); a livesum gauge of 1 per
# process sums to the workers alive, unless a dead worker's file is left behind; /metrics
# serves the multi-process registry.
METRICS_APP = """\
import json
import os

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest, multiprocess

REQUESTS = Counter("app_requests", "Requests served")
WORKERS = Gauge("app_workers", "Processes serving", multiprocess_mode="livesum")
WORKERS.set(1)


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    if scope["path"] == "/metrics":
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        body = generate_latest(registry)
    else:
        if scope["path"] == "/count":
            REQUESTS.inc()
        body = json.dumps({"pid": os.getpid()}).encode()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})
"""
# A previous run's counter, left in the image: the start must not add it to this run's total.
STALE_RUN = (
    "RUN mkdir /srv/metrics && echo keep > /srv/metrics/notes.txt"
    " && PROMETHEUS_MULTIPROC_DIR=/srv/metrics python -c"
    " \"from prometheus_client import Counter; Counter('app_requests', 'x').inc(1000)\""
    " && ls /srv/metrics/counter_*.db\n"
)
USER_CONF = """\
bind = "0.0.0.0:80"
workers = 3


def child_exit(server, worker):
    print(f"user child_exit {worker.pid}", flush=True)
"""


def _metric(server: Server, name: str) -> float:
    text = requests.get(server.url(path="/metrics"), timeout=10).text
    match = re.search(rf"^{name} (\S+)$", text, re.MULTILINE)
    assert match, text
    return float(match.group(1))


def _serve_then_kill_one_worker(server: Server, worker_started: str) -> tuple[int, set[int], int]:
    """Requests on fresh connections, so spread over the workers; one worker that served some
    is killed and replaced; more requests. Returns how many, the workers seen, and the victim."""
    server.wait_for_log(worker_started, times=WORKERS)
    pids = [requests.get(server.url(path="/count"), timeout=10).json()["pid"] for _ in range(30)]
    victim = pids[0]
    server.python(f"import os, signal; os.kill({victim}, signal.SIGKILL)")
    server.wait_for_log(worker_started, times=WORKERS + 1)
    pids += [requests.get(server.url(path="/count"), timeout=10).json()["pid"] for _ in range(30)]
    return len(pids), set(pids), victim


def test_counts_are_exact_across_workers_and_a_killed_one(
    child_images: ChildImages, platform: str, manager: Manager
) -> None:
    child = child_images.build(platform, {"main.py": METRICS_APP}, STALE_RUN, requirements=PROMETHEUS_CLIENT)
    env = {"PROMETHEUS_MULTIPROC_DIR": "/srv/metrics", "WEB_CONCURRENCY": str(WORKERS), "PROCESS_MANAGER": manager.name}
    with serve(child, platform, env=env) as server:
        served, pids, victim = _serve_then_kill_one_worker(server, manager.worker_started)
        total = _metric(server, "app_requests_total")
        alive = _metric(server, "app_workers")
        files = server.run("ls", "/srv/metrics").split()
        logs = server.logs()
    assert len(pids) >= 2, pids
    assert total == served
    assert "notes.txt" in files  # only prometheus_client's *.db files are removed
    assert not [line for line in logs.splitlines() if line.startswith("notice:")]
    if manager.name == "gunicorn":
        # child_exit marked the killed worker dead: its live gauge no longer counts.
        assert alive == WORKERS
        assert f"gauge_livesum_{victim}.db" not in files
        assert any(f"gauge_livesum_{pid}.db" in files for pid in pids - {victim})  # the names are as read
    else:
        # Uvicorn's manager has no hook: the killed worker's gauge, and the launcher's own
        # (it imported the application once, as the same PID the supervisor now has), remain.
        assert alive > WORKERS


def test_the_users_own_child_exit_still_runs(child_images: ChildImages, platform: str) -> None:
    files = {"main.py": METRICS_APP, "gunicorn_conf.py": USER_CONF}
    child = child_images.build(platform, files, requirements=PROMETHEUS_CLIENT)
    with serve(child, platform, env={"PROMETHEUS_MULTIPROC_DIR": "/tmp/metrics"}) as server:
        served, _, victim = _serve_then_kill_one_worker(server, r"Booting worker with pid")
        assert _metric(server, "app_requests_total") == served
        assert _metric(server, "app_workers") == WORKERS
        server.wait_for_log(rf"^user child_exit {victim}$")


@pytest.mark.every_platform
def test_read_only_root_and_any_user(child_images: ChildImages, platform: str) -> None:
    """The directory is made under a tmpfs, by a user that owns nothing in the image."""
    child = child_images.build(platform, {"main.py": METRICS_APP}, requirements=PROMETHEUS_CLIENT)
    env = {"PROMETHEUS_MULTIPROC_DIR": "/tmp/prometheus/metrics", "PORT": "8080", "WEB_CONCURRENCY": "2"}
    options = {"user": "10001:0", "read_only": True}
    with serve(child, platform, env=env, port=8080, tmpfs="/tmp", options=options) as server:
        for _ in range(10):
            assert requests.get(server.url(8080, "/count"), timeout=10).status_code == 200
        text = requests.get(server.url(8080, "/metrics"), timeout=10).text
    assert "app_requests_total 10.0" in text


def test_notice_without_prometheus_client(image: ImageUnderTest, platform: str, manager: Manager) -> None:
    env = {"PROMETHEUS_MULTIPROC_DIR": "/tmp/metrics", "PROCESS_MANAGER": manager.name}
    with serve(image.image_id, platform, env=env) as server:
        made = server.python("import os; print(os.path.isdir('/tmp/metrics'))")
        logs = server.logs()
    assert made == "True"
    assert [line for line in logs.splitlines() if line.startswith("notice:")] == [
        "notice: PROMETHEUS_MULTIPROC_DIR is set but prometheus_client is not installed: "
        "the directory is ready, no worker is marked dead"
    ]
