"""/start-reload.sh: one Uvicorn process that picks up code changes."""

from __future__ import annotations

import pytest
import requests
from testcontainers.core.wait_strategies import HttpWaitStrategy

from tests.conftest import PROBE_APP, ChildImages, ImageUnderTest
from tests.image.server import STARTUP_TIMEOUT_SECONDS, serve

EDITED_APP = PROBE_APP.replace('"app": "probe"', '"app": "edited"')


def test_reload_serves_the_edited_app(child_images: ChildImages, platform: str) -> None:
    child = child_images.build(platform, {"main.py": PROBE_APP})
    with serve(child, platform, command="/start-reload.sh") as server:
        assert requests.get(server.url(), timeout=10).json()["app"] == "probe"
        server.python(f"open('/app/main.py', 'w').write({EDITED_APP!r})")
        HttpWaitStrategy(80).for_response_predicate(lambda body: '"edited"' in body).with_startup_timeout(
            STARTUP_TIMEOUT_SECONDS
        ).wait_until_ready(server.container)
        assert server.worker_count_once_settled(1) == 1, server.processes()


def _logs_of_one_request(image: ImageUnderTest, platform: str, env: dict[str, str]) -> str:
    """Everything /start-reload.sh on PORT=8080 logs, from its start to its stop, around one GET /quiet."""
    with serve(image.image_id, platform, env={"PORT": "8080", **env}, port=8080, command="/start-reload.sh") as server:
        assert requests.get(server.url(8080, "/quiet"), timeout=10).status_code == 200
        return server.stop_and_collect_logs()


@pytest.mark.parametrize(("access_log", "logged"), [("-", True), ("", False)], ids=["ACCESS_LOG=-", "ACCESS_LOG="])
def test_reload_honours_port_and_access_log(
    image: ImageUnderTest, platform: str, access_log: str, logged: bool
) -> None:
    # At the info level, where access lines would show: the server's own info lines are there.
    logs = _logs_of_one_request(image, platform, {"ACCESS_LOG": access_log})
    assert "INFO:" in logs
    assert ('"GET /quiet HTTP/1.1" 200' in logs) is logged, logs


def test_reload_honours_log_level(image: ImageUnderTest, platform: str) -> None:
    logs = _logs_of_one_request(image, platform, {"LOG_LEVEL": "warning"})
    assert "INFO:" not in logs
    assert "/quiet" not in logs


def test_reload_runs_the_prestart_script(child_images: ChildImages, platform: str) -> None:
    child = child_images.build(platform, {"main.py": PROBE_APP, "prestart.sh": "export PRESTART_MARK=reload\n"})
    with serve(child, platform, command="/start-reload.sh") as server:
        answer = requests.get(server.url(path="/env?name=PRESTART_MARK"), timeout=10).json()
    assert answer == {"value": "reload"}
