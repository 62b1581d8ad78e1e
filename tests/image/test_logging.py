"""Access and error logs, and the log level."""

from __future__ import annotations

import uuid

import requests

from tests.image.conftest import ImageUnderTest
from tests.image.server import serve

# The last line Gunicorn logs on SIGTERM: its presence shows the collected logs are complete.
SHUTDOWN_LINE = "Shutting down: Master"


def _probe_path() -> str:
    return f"/probe-{uuid.uuid4().hex}"


def test_access_line_for_a_request(image: ImageUnderTest, platform: str) -> None:
    path = _probe_path()
    with serve(image.image_id, platform) as server:
        assert requests.get(server.url(path=path), timeout=10).status_code == 200
        server.wait_for_log(rf'"GET {path} HTTP/1\.1" 200')


def test_access_log_empty_disables_access_lines(image: ImageUnderTest, platform: str) -> None:
    path = _probe_path()
    with serve(image.image_id, platform, env={"ACCESS_LOG": ""}) as server:
        assert requests.get(server.url(path=path), timeout=10).status_code == 200
        logs = server.stop_and_collect_logs()
    assert SHUTDOWN_LINE in logs
    assert path not in logs


def test_log_level_warning_hides_info_lines(image: ImageUnderTest, platform: str) -> None:
    with serve(image.image_id, platform, env={"LOG_LEVEL": "warning"}) as server:
        assert server.settings()["loglevel"] == "warning"
        logs = server.stop_and_collect_logs()
    assert "[INFO]" not in logs
    assert "Booting worker" not in logs


def test_default_log_level_shows_info_lines(image: ImageUnderTest, platform: str) -> None:
    with serve(image.image_id, platform) as server:
        logs = server.stop_and_collect_logs()
    assert "[INFO] Booting worker" in logs
    assert SHUTDOWN_LINE in logs
