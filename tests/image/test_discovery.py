"""Which application and which Gunicorn configuration the image starts, and the prestart script."""

from __future__ import annotations

import json

import pytest
import requests

from tests.conftest import PROBE_APP, ChildImages, ImageUnderTest
from tests.image.server import Manager, serve

PACKAGE_APP = {"app/__init__.py": "", "app/main.py": PROBE_APP}


def _get(server_url: str) -> dict[str, object]:
    response = requests.get(server_url, timeout=10)
    assert response.status_code == 200
    loaded: dict[str, object] = response.json()
    return loaded


@pytest.mark.every_platform
def test_package_app_wins_over_the_sample(child_images: ChildImages, platform: str) -> None:
    child = child_images.build(platform, PACKAGE_APP)
    with serve(child, platform) as server:
        assert _get(server.url())["app"] == "probe"
        assert server.settings()["app"] == "app.main:app"


def test_simple_app_replaces_the_sample(child_images: ChildImages, platform: str) -> None:
    child = child_images.build(platform, {"main.py": PROBE_APP})
    with serve(child, platform) as server:
        assert _get(server.url())["app"] == "probe"
        assert server.settings()["app"] == "main:app"


def test_module_and_variable_names(child_images: ChildImages, platform: str) -> None:
    child = child_images.build(platform, {"custom/__init__.py": "", "custom/server.py": PROBE_APP + "api = app\n"})
    env = {"MODULE_NAME": "custom.server", "VARIABLE_NAME": "api"}
    with serve(child, platform, env=env) as server:
        assert _get(server.url())["app"] == "probe"
        assert server.settings()["app"] == "custom.server:api"


FACTORY_APP = """def create_app():
    async def app(scope, receive, send):
        if scope["type"] == "http":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"made by the factory"})
    return app
"""


def test_a_factory_in_gunicorns_form(child_images: ChildImages, platform: str, manager: Manager) -> None:
    """`module:factory()`, which the original image handed to Gunicorn, under either manager."""
    child = child_images.build(platform, {"main.py": FACTORY_APP})
    env = {"APP_MODULE": "main:create_app()", "PROCESS_MANAGER": manager.name}
    with serve(child, platform, env=env) as server:
        assert requests.get(server.url(), timeout=10).text == "made by the factory"


def test_app_module_wins_over_module_and_variable(child_images: ChildImages, platform: str) -> None:
    child = child_images.build(platform, {"custom/__init__.py": "", "custom/server.py": PROBE_APP + "api = app\n"})
    env = {"APP_MODULE": "custom.server:api", "MODULE_NAME": "missing", "VARIABLE_NAME": "missing"}
    with serve(child, platform, env=env) as server:
        assert _get(server.url())["app"] == "probe"


CONF = "print('conf: {name}', flush=True)\nworkers = 3\nbind = ['0.0.0.0:80']\n"


@pytest.mark.parametrize(
    ("files", "env", "name"),
    [
        pytest.param({"gunicorn_conf.py": CONF.format(name="app-root")}, {}, "app-root", id="/app/gunicorn_conf.py"),
        pytest.param(
            {"app/__init__.py": "", "app/main.py": PROBE_APP, "app/gunicorn_conf.py": CONF.format(name="package")},
            {},
            "package",
            id="/app/app/gunicorn_conf.py",
        ),
        pytest.param(
            {"conf/custom.py": CONF.format(name="custom")},
            {"GUNICORN_CONF": "/app/conf/custom.py"},
            "custom",
            id="GUNICORN_CONF",
        ),
    ],
)
def test_gunicorn_config_file(
    child_images: ChildImages, platform: str, files: dict[str, str], env: dict[str, str], name: str
) -> None:
    child = child_images.build(platform, files)
    with serve(child, platform, env=env) as server:
        server.wait_for_log(r"Booting worker with pid", times=3)
        assert f"conf: {name}" in server.logs()
        assert server.worker_count_once_settled(3) == 3, server.processes()


def test_gunicorn_cmd_args_win_over_everything(image: ImageUnderTest, platform: str) -> None:
    env = {"GUNICORN_CMD_ARGS": "--workers 3", "WEB_CONCURRENCY": "1"}
    with serve(image.image_id, platform, env=env) as server:
        server.wait_for_log(r"Booting worker with pid", times=3)
        assert server.worker_count_once_settled(3) == 3, server.processes()


PRESTART = "echo 'prestart: hello from {name}'\nexport PRESTART_MARK={name}\n"


@pytest.mark.parametrize(
    ("files", "env", "name"),
    [
        pytest.param({"prestart.sh": PRESTART.format(name="default")}, {}, "default", id="/app/prestart.sh"),
        pytest.param(
            {"scripts/boot.sh": PRESTART.format(name="custom")},
            {"PRE_START_PATH": "/app/scripts/boot.sh"},
            "custom",
            id="PRE_START_PATH",
        ),
    ],
)
def test_prestart_runs_and_its_exports_reach_the_server(
    child_images: ChildImages, platform: str, files: dict[str, str], env: dict[str, str], name: str
) -> None:
    child = child_images.build(platform, {"main.py": PROBE_APP, **files})
    with serve(child, platform, env=env) as server:
        answer = requests.get(server.url(path="/env?name=PRESTART_MARK"), timeout=10).json()
        logs = server.logs()
    assert answer == {"value": name}
    assert f"prestart: running {env.get('PRE_START_PATH', '/app/prestart.sh')}" in logs
    assert f"prestart: hello from {name}" in logs


def test_missing_prestart_is_reported(image: ImageUnderTest, platform: str) -> None:
    with serve(image.image_id, platform) as server:
        assert "prestart: no script at /app/prestart.sh" in server.logs()


def test_settings_line_is_one_json_object(image: ImageUnderTest, platform: str) -> None:
    with serve(image.image_id, platform) as server:
        line = next(text for text in server.logs().splitlines() if text.startswith("{"))
    assert json.loads(line)["worker_class"] == "uvicorn_worker.UvicornWorker"
