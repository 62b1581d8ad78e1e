"""WORKER_CLASS and the timeouts reach the server."""

from __future__ import annotations

import pytest
import requests

from tests.image.conftest import ImageUnderTest
from tests.image.server import serve


@pytest.mark.parametrize("worker_class", ["uvicorn_worker.UvicornWorker", "uvicorn_worker.UvicornH11Worker"])
def test_worker_class(image: ImageUnderTest, platform: str, worker_class: str) -> None:
    with serve(image.image_id, platform, env={"WORKER_CLASS": worker_class}) as server:
        assert requests.get(server.url(), timeout=10).status_code == 200
        assert f"Using worker: {worker_class}" in server.logs()


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        pytest.param({}, {"timeout": 120, "graceful_timeout": 120, "keepalive": 5}, id="defaults"),
        pytest.param(
            {"TIMEOUT": "30", "GRACEFUL_TIMEOUT": "10", "KEEP_ALIVE": "7"},
            {"timeout": 30, "graceful_timeout": 10, "keepalive": 7},
            id="set",
        ),
    ],
)
def test_timeouts_reach_gunicorn(
    image: ImageUnderTest, platform: str, env: dict[str, str], expected: dict[str, int]
) -> None:
    # At debug level Gunicorn prints the configuration it really runs with.
    with serve(image.image_id, platform, env={**env, "LOG_LEVEL": "debug"}) as server:
        logs = server.logs()
    for name, value in expected.items():
        assert f"  {name}: {value}\n" in logs, name
