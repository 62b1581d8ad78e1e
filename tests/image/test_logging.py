"""Access and error logs, the log level, and JSON logs."""

from __future__ import annotations

import json
import uuid

import pytest
import requests

from tests.conftest import ImageUnderTest
from tests.image.server import Manager, serve


def _probe_path() -> str:
    return f"/probe-{uuid.uuid4().hex}"


@pytest.mark.every_platform
def test_access_line_for_a_request(image: ImageUnderTest, platform: str, manager: Manager) -> None:
    path = _probe_path()
    with serve(image.image_id, platform, env={"PROCESS_MANAGER": manager.name}) as server:
        assert requests.get(server.url(path=path), timeout=10).status_code == 200
        server.wait_for_log(rf'"GET {path} HTTP/1\.1" 200')


@pytest.mark.every_platform
def test_access_log_empty_disables_access_lines(image: ImageUnderTest, platform: str, manager: Manager) -> None:
    path = _probe_path()
    with serve(image.image_id, platform, env={"ACCESS_LOG": "", "PROCESS_MANAGER": manager.name}) as server:
        assert requests.get(server.url(path=path), timeout=10).status_code == 200
        logs = server.stop_and_collect_logs()
    assert manager.stopped in logs  # the logs are complete
    assert path not in logs


@pytest.mark.every_platform
def test_log_level_warning_hides_info_lines(image: ImageUnderTest, platform: str, manager: Manager) -> None:
    with serve(image.image_id, platform, env={"LOG_LEVEL": "warning", "PROCESS_MANAGER": manager.name}) as server:
        assert server.settings()["log_level"] == "warning"
        logs = server.stop_and_collect_logs()
    assert manager.info_marker not in logs
    assert "Started server process" not in logs


def test_default_log_level_shows_info_lines(image: ImageUnderTest, platform: str, manager: Manager) -> None:
    with serve(image.image_id, platform, env={"PROCESS_MANAGER": manager.name}) as server:
        logs = server.stop_and_collect_logs()
    assert manager.info_marker in logs
    assert manager.stopped in logs


@pytest.mark.every_platform
def test_json_logs(image: ImageUnderTest, platform: str, manager: Manager) -> None:
    path = _probe_path()
    with serve(image.image_id, platform, env={"LOG_FORMAT": "json", "PROCESS_MANAGER": manager.name}) as server:
        assert requests.get(server.url(path=path), timeout=10).status_code == 200
        server.wait_for_log(rf'"path": "{path}"')
        stdout, stderr = server.container.get_logs()
    error_lines = [json.loads(line) for line in stderr.decode().splitlines() if line.strip()]
    assert error_lines, "no error-log lines at all"
    assert all({"time", "level", "logger", "message"} <= entry.keys() for entry in error_lines)
    assert any("Started server process" in entry["message"] for entry in error_lines)
    access = [json.loads(line) for line in stdout.decode().splitlines() if path in line]
    assert len(access) == 1
    assert access[0]["method"] == "GET"
    assert access[0]["status"] == 200
    assert access[0]["logger"] == "uvicorn.access"
