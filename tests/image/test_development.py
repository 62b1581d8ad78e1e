"""/start-reload.sh: one Uvicorn process that picks up code changes."""

from __future__ import annotations

import requests
from testcontainers.core.wait_strategies import HttpWaitStrategy

from tests.image.conftest import PROBE_APP, ChildImages, ImageUnderTest
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
        assert server.worker_count() == 1


def test_reload_honours_port_log_level_and_access_log(image: ImageUnderTest, platform: str) -> None:
    env = {"PORT": "8080", "LOG_LEVEL": "warning", "ACCESS_LOG": ""}
    with serve(image.image_id, platform, env=env, port=8080, command="/start-reload.sh") as server:
        assert requests.get(server.url(8080, "/quiet"), timeout=10).status_code == 200
        logs = server.stop_and_collect_logs()
    assert "/quiet" not in logs
    assert "INFO:" not in logs


def test_reload_runs_the_prestart_script(child_images: ChildImages, platform: str) -> None:
    child = child_images.build(platform, {"main.py": PROBE_APP, "prestart.sh": "export PRESTART_MARK=reload\n"})
    with serve(child, platform, command="/start-reload.sh") as server:
        answer = requests.get(server.url(path="/env?name=PRESTART_MARK"), timeout=10).json()
    assert answer == {"value": "reload"}
