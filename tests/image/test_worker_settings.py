"""WORKER_CLASS (or an application's own worker class) and the timeouts reach the server."""

from __future__ import annotations

import pytest
import requests

from tests.conftest import ChildImages, ImageUnderTest
from tests.image.server import Manager, serve


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


# The original image's names (its README's own WORKER_CLASS example) become uvicorn-worker's.
ORIGINAL_NAMES = {
    "uvicorn.workers.UvicornWorker": "uvicorn_worker.UvicornWorker",
    "uvicorn.workers.UvicornH11Worker": "uvicorn_worker.UvicornH11Worker",
}


def _notices(logs: str) -> list[str]:
    return [line for line in logs.splitlines() if line.startswith("notice:")]


@pytest.mark.parametrize("original", sorted(ORIGINAL_NAMES))
def test_original_worker_class_names_work_with_one_notice(
    image: ImageUnderTest, platform: str, manager: Manager, original: str
) -> None:
    env = {"WORKER_CLASS": original, "PROCESS_MANAGER": manager.name}
    with serve(image.image_id, platform, env=env) as server:
        assert requests.get(server.url(), timeout=10).status_code == 200
        logs = server.logs()
        assert server.settings()["worker_class"] == ORIGINAL_NAMES[original]
    assert _notices(logs) == [
        f"notice: WORKER_CLASS={original!r} is the original image's name; "
        f"using {ORIGINAL_NAMES[original]} (Uvicorn's uvicorn.workers module is deprecated)"
    ]
    if manager.name == "gunicorn":
        assert f"Using worker: {ORIGINAL_NAMES[original]}\n" in logs


# A worker of the application's own, as users write them to pass options to Uvicorn. The app
# reports the event loop it runs on: uvloop under the image's default worker, asyncio here.
WORKERS_MODULE = (
    "from uvicorn_worker import UvicornWorker\n"
    "class MyWorker(UvicornWorker):\n"
    "    CONFIG_KWARGS = {'loop': 'asyncio', 'http': 'h11', 'lifespan': 'off'}\n"
    "class NotAWorker:\n"
    "    pass\n"
)
LOOP_APP = (
    "import asyncio, json\n"
    "async def app(scope, receive, send):\n"
    "    loop = type(asyncio.get_running_loop()).__module__\n"
    "    await send({'type': 'http.response.start', 'status': 200, 'headers': []})\n"
    "    await send({'type': 'http.response.body', 'body': json.dumps({'loop': loop}).encode()})\n"
)
OWN_WORKER_APP = {"app/__init__.py": "", "app/main.py": LOOP_APP, "app/workers.py": WORKERS_MODULE}
CONF = "bind = '0.0.0.0:80'\nworkers = 1\n"


def _loop(server_url: str) -> str:
    response = requests.get(server_url, timeout=10)
    assert response.status_code == 200
    loop: str = response.json()["loop"]
    return loop


@pytest.mark.every_platform
def test_the_applications_own_worker_class(child_images: ChildImages, platform: str) -> None:
    child = child_images.build(platform, OWN_WORKER_APP)
    with serve(child, platform, env={"WORKER_CLASS": "app.workers.MyWorker"}) as server:
        assert _loop(server.url()).startswith("asyncio")  # its CONFIG_KWARGS apply
        logs = server.logs()
    assert "Using worker: app.workers.MyWorker\n" in logs
    assert "Waiting for application startup" not in logs  # lifespan off


def test_the_images_default_worker_runs_on_uvloop(child_images: ChildImages, platform: str) -> None:
    """The contrast that makes the test above meaningful."""
    child = child_images.build(platform, OWN_WORKER_APP)
    with serve(child, platform) as server:
        assert _loop(server.url()) == "uvloop"


@pytest.mark.parametrize(
    ("conf", "env", "expected"),
    [
        pytest.param(CONF, {}, "uvicorn_worker.UvicornWorker", id="image-default-under-a-config-file"),
        pytest.param(
            CONF + "worker_class = 'app.workers.MyWorker'\n", {}, "app.workers.MyWorker", id="config-file-over-default"
        ),
        pytest.param(
            CONF + "worker_class = 'app.workers.MyWorker'\n",
            {"WORKER_CLASS": "uvicorn_worker.UvicornH11Worker"},
            "uvicorn_worker.UvicornH11Worker",
            id="WORKER_CLASS-over-config-file",
        ),
        pytest.param(
            CONF + "worker_class = 'uvicorn_worker.UvicornH11Worker'\n",
            {"WORKER_CLASS": "uvicorn_worker.UvicornH11Worker", "GUNICORN_CMD_ARGS": "-k app.workers.MyWorker"},
            "app.workers.MyWorker",
            id="GUNICORN_CMD_ARGS-over-WORKER_CLASS",
        ),
        pytest.param(
            CONF + "from app.workers import MyWorker\nworker_class = MyWorker\n",
            {},
            "MyWorker",  # Gunicorn names a class by its __name__
            id="class-object-in-config-file",
        ),
    ],
)
def test_worker_class_precedence(
    child_images: ChildImages, platform: str, conf: str, env: dict[str, str], expected: str
) -> None:
    """GUNICORN_CMD_ARGS > WORKER_CLASS > the application's config file > the image's default."""
    child = child_images.build(platform, {**OWN_WORKER_APP, "gunicorn_conf.py": conf})
    with serve(child, platform, env=env) as server:
        loop = _loop(server.url())
        logs = server.logs()
    assert f"Using worker: {expected}\n" in logs
    assert (loop == "uvloop") == (expected == "uvicorn_worker.UvicornWorker")


def test_original_worker_class_name_in_a_config_file(child_images: ChildImages, platform: str) -> None:
    conf = CONF + "worker_class = 'uvicorn.workers.UvicornWorker'\n"
    child = child_images.build(platform, {**OWN_WORKER_APP, "gunicorn_conf.py": conf})
    with serve(child, platform) as server:
        logs = server.logs()
    assert "Using worker: uvicorn_worker.UvicornWorker\n" in logs
    assert _notices(logs) == [
        "notice: worker_class='uvicorn.workers.UvicornWorker' in /app/gunicorn_conf.py is the original image's "
        "name; using uvicorn_worker.UvicornWorker (Uvicorn's uvicorn.workers module is deprecated)",
        "notice: Gunicorn runs the application's own configuration file /app/gunicorn_conf.py",
    ]
