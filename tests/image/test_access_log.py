"""The access log is written in batches: every line still arrives, in order, within the
flush interval; a worker killed outright loses at most what it served in its last interval."""

from __future__ import annotations

import json
import re
import time
from datetime import datetime

import pytest
import requests

from tests.conftest import ImageUnderTest
from tests.image.server import Manager, Server, engine_time, serve
from tests.image.waiting import slowdown

REQUESTS = 300


def _numbers_logged(logs: str, name: str) -> list[int]:
    """The n of every `?name=n` request line in the logs, in the order logged (a JSON line
    names the path twice, in its message and its own field)."""
    pattern = re.compile(rf"/\?{name}=(\d+)\b")
    return [int(found.group(1)) for line in logs.splitlines() if (found := pattern.search(line))]


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_every_line_arrives_after_docker_stop(
    image: ImageUnderTest, platform: str, manager: Manager, log_format: str
) -> None:
    env = {"PROCESS_MANAGER": manager.name, "LOG_FORMAT": log_format}
    with serve(image.image_id, platform, env=env) as server, requests.Session() as session:
        for number in range(REQUESTS):
            assert session.get(server.url(path=f"/?n={number}"), timeout=10).status_code == 200
        logs = server.stop_and_collect_logs()
    logged = _numbers_logged(logs, "n")
    assert sorted(logged) == list(range(REQUESTS)), f"{len(logged)} of {REQUESTS} lines"
    if log_format == "json":
        access = [json.loads(line) for line in logs.splitlines() if '"logger": "uvicorn_gunicorn.access"' in line]
        assert {entry["status"] for entry in access} == {200}


# Beyond the flush interval: the flusher thread's wake-up and the engine's receipt of the line.
FLUSH_SLACK_SECONDS = 1.0


def _slack(server: Server) -> float:
    return FLUSH_SLACK_SECONDS * slowdown(server.emulated)


def _delays(server: Server, name: str) -> dict[int, float]:
    """For each `?name=n` line of a JSON access log on standard output: seconds from the time
    the line gives (when it was made) to the time the engine received it. Both clocks are the
    host's, and neither the test's polling nor its own speed is in the measure."""
    logged = server.container.get_wrapped_container().logs(stdout=True, stderr=False, timestamps=True)
    delays = {}
    for line in logged.decode().splitlines():
        received, _, text = line.partition(" ")
        if '"logger": "uvicorn_gunicorn.access"' in text and (number := _numbers_logged(text, name)):
            made = datetime.fromisoformat(json.loads(text)["time"])
            delays[number[0]] = (engine_time(received) - made).total_seconds()
    return delays


def test_lines_arrive_within_the_interval_while_the_server_runs(image: ImageUnderTest, platform: str) -> None:
    """With no more traffic and no stop, each line reaches the engine at most one interval
    after it was made."""
    interval = 0.2
    env = {"ACCESS_LOG_FLUSH_SECONDS": str(interval), "LOG_FORMAT": "json"}
    with serve(image.image_id, platform, env=env) as server, requests.Session() as session:
        for number in range(5):
            assert session.get(server.url(path=f"/?alone={number}"), timeout=10).status_code == 200
        server.wait_for_log(r"/\?alone=4\b")
        delays = _delays(server, "alone")
        bound = interval + _slack(server)
    assert sorted(delays) == list(range(5)), delays
    assert max(delays.values()) <= bound, f"{delays} (seconds; at most {bound} s each)"
    print(f"lines reached the engine {min(delays.values()):.3f} to {max(delays.values()):.3f} s after they were made")


def test_a_killed_worker_loses_only_its_last_interval(image: ImageUnderTest, platform: str) -> None:
    """SIGKILL leaves a worker no time to flush: lines of its last interval may be lost, and
    only those. The requests span several intervals; every line made longer than an interval
    (and the slack) before the kill must be there, and what arrived is in order, with no gap."""
    interval = 1.0
    env = {"WEB_CONCURRENCY": "1", "ACCESS_LOG_FLUSH_SECONDS": str(interval)}
    served_at: list[float] = []
    with serve(image.image_id, platform, env=env) as server, requests.Session() as session:
        for number in range(40):
            assert session.get(server.url(path=f"/?killed={number}"), timeout=10).status_code == 200
            served_at.append(time.time())  # the worker made the line before the answer came
            time.sleep(interval / 10)  # spreading the requests over four intervals, not waiting for anything
        workers = server.worker_pids()
        killed_at = time.time()  # the kill itself comes later still
        server.python(f"import os, signal\nfor pid in {workers}: os.kill(pid, signal.SIGKILL)")
        server.wait_for_log(r"Booting worker with pid", times=2)
        older = sum(served < killed_at - interval - _slack(server) for served in served_at)
        logs = server.stop_and_collect_logs()
    kept = _numbers_logged(logs, "killed")
    assert kept == list(range(len(kept))), kept
    assert len(kept) >= older, f"{older} lines were older than the last interval; {len(kept)} arrived"
    print(f"SIGKILL lost {len(served_at) - len(kept)} of {len(served_at)} lines, {older} of them old enough to be kept")


def test_a_log_file_gets_every_line_across_a_reopen(image: ImageUnderTest, platform: str) -> None:
    """ACCESS_LOG=/path (Gunicorn only) is batched too; SIGUSR1 (log rotation) reopens the file:
    lines held at that moment go to the old file, later ones to the new, none lost or repeated."""
    env = {"ACCESS_LOG": "/tmp/access.log", "ACCESS_LOG_FLUSH_SECONDS": "1"}
    with serve(image.image_id, platform, env=env) as server, requests.Session() as session:
        for number in range(REQUESTS):
            assert session.get(server.url(path=f"/?n={number}"), timeout=10).status_code == 200
        server.run("mv", "/tmp/access.log", "/tmp/access.log.1")
        server.python("import os, signal; os.kill(1, signal.SIGUSR1)")
        server.wait_for_log(r"Handling signal: usr1")
        for number in range(REQUESTS, 2 * REQUESTS):
            assert session.get(server.url(path=f"/?n={number}"), timeout=10).status_code == 200
        server.stop_and_collect_logs()
        rotated, current = server.file_text("/tmp/access.log.1"), server.file_text("/tmp/access.log")
    logged = _numbers_logged(rotated, "n") + _numbers_logged(current, "n")
    assert sorted(logged) == list(range(2 * REQUESTS)), f"{len(logged)} of {2 * REQUESTS} lines"
    assert _numbers_logged(current, "n"), "no line reached the reopened file"
