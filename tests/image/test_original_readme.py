"""Every example of the original tiangolo/uvicorn-gunicorn README works here unchanged: its
variables, file locations and commands, as that README writes them."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from tests.conftest import PROBE_APP, ChildImages, ImageUnderTest
from tests.image.server import bind_mount, ready_inside, serve
from tests.image.tls import self_signed


def _probe(url: str) -> dict[str, object]:
    response = requests.get(url, timeout=10)
    assert response.status_code == 200
    body: dict[str, object] = response.json()
    return body


# `docker run -d -p 80:8080 -e NAME=value myimage`, one variable at a time, with what it sets.
@pytest.mark.parametrize(
    ("env", "port", "expected"),
    [
        pytest.param({}, 80, {"bind": "0.0.0.0:80"}, id="docker-run-p-80-80"),
        pytest.param({"PORT": "8080"}, 8080, {"bind": "0.0.0.0:8080"}, id="PORT"),
        pytest.param({"BIND": "0.0.0.0:8080"}, 8080, {"bind": "0.0.0.0:8080"}, id="BIND"),
        pytest.param({"HOST": "0.0.0.0"}, 80, {"bind": "0.0.0.0:80"}, id="HOST"),
        pytest.param({"LOG_LEVEL": "warning"}, 80, {"log_level": "warning"}, id="LOG_LEVEL"),
        pytest.param(
            {"WORKER_CLASS": "uvicorn.workers.UvicornH11Worker"},
            80,
            {"worker_class": "uvicorn_worker.UvicornH11Worker"},
            id="WORKER_CLASS",
        ),
        pytest.param({"TIMEOUT": "20"}, 80, {"timeout": 20}, id="TIMEOUT"),
        pytest.param({"KEEP_ALIVE": "20"}, 80, {"keep_alive": 20}, id="KEEP_ALIVE"),
        pytest.param({"GRACEFUL_TIMEOUT": "20"}, 80, {"graceful_timeout": 20}, id="GRACEFUL_TIMEOUT"),
        pytest.param({"ACCESS_LOG": ""}, 80, {"access_log": None}, id="ACCESS_LOG-empty"),
        pytest.param({"ERROR_LOG": ""}, 80, {"error_log": None}, id="ERROR_LOG-empty"),
    ],
)
def test_variable_examples(
    image: ImageUnderTest, platform: str, env: dict[str, str], port: int, expected: dict[str, object]
) -> None:
    with serve(image.image_id, platform, env=env, port=port) as server:
        assert requests.get(server.url(port), timeout=10).status_code == 200
        settings = server.settings()
    assert {name: settings[name] for name in expected} == expected


@pytest.mark.parametrize(
    ("env", "count"),
    [
        pytest.param({"WORKERS_PER_CORE": "3"}, lambda cpus: max(2, 3 * cpus), id="WORKERS_PER_CORE-3"),
        pytest.param({"WORKERS_PER_CORE": "0.5"}, lambda cpus: max(2, cpus // 2), id="WORKERS_PER_CORE-0.5"),
        pytest.param({"MAX_WORKERS": "24"}, lambda cpus: min(24, max(2, cpus)), id="MAX_WORKERS"),
        pytest.param({"WEB_CONCURRENCY": "2"}, lambda cpus: 2, id="WEB_CONCURRENCY"),
    ],
)
def test_worker_count_examples(image: ImageUnderTest, platform: str, env: dict[str, str], count: object) -> None:
    assert callable(count)
    with serve(image.image_id, platform, env=env) as server:
        cpus = server.usable_cpus()
        expected = count(cpus)
        server.wait_for_log(r"Booting worker with pid", times=expected)
        assert server.worker_count_once_settled(expected) == expected, server.processes()
        workers = server.settings()["workers"]
    assert (workers["cpus"], workers["count"]) == (cpus, expected)


CUSTOM_APP = PROBE_APP + "api = app\n"


# /app/custom_app/custom_main.py, with no __init__.py, as in the original README.
@pytest.mark.parametrize(
    ("files", "env"),
    [
        pytest.param(
            {"custom_app/custom_main.py": CUSTOM_APP}, {"MODULE_NAME": "custom_app.custom_main"}, id="MODULE_NAME"
        ),
        pytest.param({"main.py": CUSTOM_APP}, {"VARIABLE_NAME": "api"}, id="VARIABLE_NAME"),
        pytest.param(
            {"custom_app/custom_main.py": CUSTOM_APP},
            {"APP_MODULE": "custom_app.custom_main:api"},
            id="APP_MODULE",
        ),
        # Dockerfile: COPY ./requirements.txt /app/requirements.txt ... COPY ./app /app
        pytest.param(
            {"requirements.txt": "# the application's pins\n", "app/__init__.py": "", "app/main.py": PROBE_APP},
            {},
            id="COPY-app-to-app",
        ),
    ],
)
def test_application_examples(
    child_images: ChildImages, platform: str, files: dict[str, str], env: dict[str, str]
) -> None:
    child = child_images.build(platform, files)
    with serve(child, platform, env=env) as server:
        assert _probe(server.url())["app"] == "probe"


# A configuration file in the style of the original image's /gunicorn_conf.py, which its README
# offers as a starting point: every value from the environment, the worker class included.
ORIGINAL_STYLE_CONF = """\
import json
import multiprocessing
import os

cores = multiprocessing.cpu_count()
web_concurrency = os.getenv("WEB_CONCURRENCY")
if web_concurrency:
    workers = int(web_concurrency)
else:
    workers = max(int(float(os.getenv("WORKERS_PER_CORE", "1")) * cores), 2)
bind = os.getenv("BIND") or f"{os.getenv('HOST', '0.0.0.0')}:{os.getenv('PORT', '80')}"
loglevel = os.getenv("LOG_LEVEL", "info")
worker_class = os.getenv("WORKER_CLASS", "uvicorn.workers.UvicornWorker")
accesslog = os.getenv("ACCESS_LOG", "-") or None
timeout = int(os.getenv("TIMEOUT", "120"))
graceful_timeout = int(os.getenv("GRACEFUL_TIMEOUT", "120"))
keepalive = int(os.getenv("KEEP_ALIVE", "5"))
worker_tmp_dir = "/dev/shm"
print(json.dumps({"workers": workers, "worker_class": worker_class}), flush=True)
"""


@pytest.mark.every_platform
@pytest.mark.parametrize(
    ("files", "env"),
    [
        pytest.param({"gunicorn_conf.py": ORIGINAL_STYLE_CONF}, {}, id="/app/gunicorn_conf.py"),
        pytest.param(
            {"custom_gunicorn_conf.py": ORIGINAL_STYLE_CONF},
            {"GUNICORN_CONF": "/app/custom_gunicorn_conf.py"},
            id="GUNICORN_CONF",
        ),
    ],
)
def test_config_file_in_the_original_style(
    child_images: ChildImages, platform: str, files: dict[str, str], env: dict[str, str]
) -> None:
    child = child_images.build(platform, files)
    with serve(child, platform, env=env) as server:
        # What that file computes, from multiprocessing.cpu_count() as the original did.
        workers = max(server.cpu_count(), 2)
        server.wait_for_log(r"Booting worker with pid", times=workers)
        assert server.worker_count_once_settled(workers) == workers, server.processes()
        assert server.settings()["workers"] == workers
        logs = server.logs()
    assert "Using worker: uvicorn_worker.UvicornWorker\n" in logs
    notices = [line for line in logs.splitlines() if line.startswith("notice:")]
    assert len(notices) == 2, notices  # the worker class's original name, and which file runs
    conf = env.get("GUNICORN_CONF", "/app/gunicorn_conf.py")
    assert f"notice: Gunicorn runs the application's own configuration file {conf}" in notices


@pytest.mark.parametrize(
    ("files", "env", "tail", "marker"),
    [
        # The README's own: "#! /usr/bin/env bash ... python /app/my_custom_prestart_script.py"
        pytest.param(
            {
                "prestart.sh": "#! /usr/bin/env bash\n\n# Run custom Python script before starting\n"
                "python /app/my_custom_prestart_script.py\n",
                "my_custom_prestart_script.py": "print('prestart: the python script ran', flush=True)\n",
            },
            {},
            "",
            "prestart: the python script ran",
            id="/app/prestart.sh",
        ),
        pytest.param(
            {"script.sh": "echo 'prestart: /custom/script.sh ran'\n"},
            {"PRE_START_PATH": "/custom/script.sh"},
            "RUN mkdir /custom && mv /app/script.sh /custom/script.sh\n",
            "prestart: /custom/script.sh ran",
            id="PRE_START_PATH",
        ),
    ],
)
def test_prestart_examples(
    child_images: ChildImages, platform: str, files: dict[str, str], env: dict[str, str], tail: str, marker: str
) -> None:
    child = child_images.build(platform, files, tail)
    with serve(child, platform, env=env) as server:
        assert f"{marker}\n" in server.logs()


FETCH_OVER_TLS = (
    "import json, ssl, urllib.request\n"
    "context = ssl.create_default_context(cafile='/secrets/cert.pem')\n"
    "print(json.load(urllib.request.urlopen('https://localhost:443/', context=context, timeout=10))['app'])\n"
)


def test_tls_through_gunicorn_cmd_args(child_images: ChildImages, platform: str, tmp_path: Path) -> None:
    """GUNICORN_CMD_ARGS="--keyfile=/secrets/key.pem --certfile=/secrets/cert.pem" -e PORT=443,
    the key pair mounted at /secrets as a user mounts theirs."""
    self_signed(tmp_path, "/CN=localhost", "DNS:localhost,IP:127.0.0.1")
    child = child_images.build(platform, {"main.py": PROBE_APP})
    env = {"GUNICORN_CMD_ARGS": "--keyfile=/secrets/key.pem --certfile=/secrets/cert.pem", "PORT": "443"}
    options = {"mounts": [bind_mount(tmp_path, "/secrets")]}
    # From inside: the certificate names localhost, not whatever address the host reaches it at.
    ready = ready_inside("python", "-c", FETCH_OVER_TLS)
    with serve(child, platform, env=env, port=443, ready=ready, options=options) as server:
        assert server.python(FETCH_OVER_TLS) == "probe"


def test_start_reload_with_the_code_mounted(image: ImageUnderTest, platform: str, tmp_path: Path) -> None:
    """docker run -d -p 80:80 -v $(pwd):/app myimage /start-reload.sh"""
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "__init__.py").write_text("")
    (tmp_path / "app" / "main.py").write_text(PROBE_APP)
    tmp_path.chmod(0o755)
    options = {"mounts": [bind_mount(tmp_path, "/app", read_only=False)]}
    with serve(image.image_id, platform, command="/start-reload.sh", options=options) as server:
        assert _probe(server.url())["app"] == "probe"
