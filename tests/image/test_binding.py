"""HOST, PORT and BIND decide where the server listens."""

from __future__ import annotations

import pytest
import requests

from tests.conftest import ImageUnderTest
from tests.image.server import Manager, ready_inside, serve

pytestmark = pytest.mark.every_platform

FETCH_INSIDE = "import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1], timeout=10).status)"


def test_port(image: ImageUnderTest, platform: str, manager: Manager) -> None:
    env = {"PORT": "8080", "PROCESS_MANAGER": manager.name}
    with serve(image.image_id, platform, env=env, port=8080) as server:
        assert requests.get(server.url(8080), timeout=10).status_code == 200
        assert server.settings()["bind"] == "0.0.0.0:8080"


def test_host_loopback_is_reachable_only_from_inside(image: ImageUnderTest, platform: str) -> None:
    fetch_inside = ("python", "-c", FETCH_INSIDE, "http://127.0.0.1:80/")
    with serve(image.image_id, platform, env={"HOST": "127.0.0.1"}, ready=ready_inside(*fetch_inside)) as server:
        inside = server.run(*fetch_inside).strip()
        with pytest.raises(requests.ConnectionError):
            requests.get(server.url(), timeout=10)
    assert inside == "200"


def test_bind_wins_over_host_and_port(image: ImageUnderTest, platform: str, manager: Manager) -> None:
    env = {"BIND": "0.0.0.0:9090", "HOST": "127.0.0.1", "PORT": "8080", "PROCESS_MANAGER": manager.name}
    with serve(image.image_id, platform, env=env, port=9090) as server:
        assert requests.get(server.url(9090), timeout=10).status_code == 200
        assert server.settings()["bind"] == "0.0.0.0:9090"
