"""The access log is written in batches: every line still arrives, in order, within the
flush interval; a worker killed outright loses at most what it served in its last interval."""

from __future__ import annotations

import io
import json
import re
import tarfile
from pathlib import PurePosixPath

import pytest
import requests

from tests.image.conftest import ImageUnderTest
from tests.image.server import Manager, Server, serve

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
        access = [json.loads(line) for line in logs.splitlines() if '"logger": "uvicorn.access"' in line]
        assert {entry["status"] for entry in access} == {200}


def test_lines_arrive_within_the_interval_while_the_server_runs(image: ImageUnderTest, platform: str) -> None:
    with serve(image.image_id, platform, env={"ACCESS_LOG_FLUSH_SECONDS": "0.2"}) as server:
        assert requests.get(server.url(path="/?alone=1"), timeout=10).status_code == 200
        server.wait_for_log(r"/\?alone=1\b")  # its time limit is the test's failure, not a sleep


def test_a_killed_worker_loses_only_its_last_interval(image: ImageUnderTest, platform: str) -> None:
    """Lines older than the interval are out; the ones a SIGKILL takes are counted and reported."""
    env = {"WEB_CONCURRENCY": "1", "ACCESS_LOG_FLUSH_SECONDS": "1"}
    with serve(image.image_id, platform, env=env) as server, requests.Session() as session:
        for number in range(20):
            session.get(server.url(path=f"/?before={number}"), timeout=10)
        server.wait_for_log(r"/\?before=19\b")
        for number in range(20):
            session.get(server.url(path=f"/?killed={number}"), timeout=10)
        server.python(f"import os, signal\nfor pid in {server.worker_pids()}: os.kill(pid, signal.SIGKILL)")
        server.wait_for_log(r"Booting worker with pid", times=2)
        logs = server.stop_and_collect_logs()
    assert _numbers_logged(logs, "before") == list(range(20))
    kept = _numbers_logged(logs, "killed")
    assert kept == list(range(len(kept)))  # what arrived is in order, with no gap
    print(f"SIGKILL lost {20 - len(kept)} of the 20 lines of the last interval")


def _file_in(server: Server, path: str) -> str:
    """A file's text from the container, running or stopped."""
    chunks, _ = server.container.get_wrapped_container().get_archive(path)
    with tarfile.open(fileobj=io.BytesIO(b"".join(chunks))) as archive:
        member = archive.extractfile(PurePosixPath(path).name)
        assert member is not None, f"{path} is not a file"
        return member.read().decode()


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
        rotated, current = _file_in(server, "/tmp/access.log.1"), _file_in(server, "/tmp/access.log")
    logged = _numbers_logged(rotated, "n") + _numbers_logged(current, "n")
    assert sorted(logged) == list(range(2 * REQUESTS)), f"{len(logged)} of {2 * REQUESTS} lines"
    assert _numbers_logged(current, "n"), "no line reached the reopened file"
