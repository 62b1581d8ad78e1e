"""A bad setting or a broken application stops the start in one clear line, without a restart loop."""

from __future__ import annotations

import pytest
from _pytest.mark import ParameterSet

from tests.conftest import ChildImages, ImageUnderTest
from tests.image.server import Exited, assert_app_error, run_to_exit

BROKEN_APP = "import json\nvalue = 1 / 0\n"


BAD_SETTINGS = [
    # (environment, what the one error line must say, whether emulated platforms run it too)
    ({"WORKERS_PER_CORE": "abc"}, "WORKERS_PER_CORE='abc'", True),
    ({"WEB_CONCURRENCY": "0"}, "WEB_CONCURRENCY='0'", False),
    ({"MAX_WORKERS": "-1"}, "MAX_WORKERS='-1'", False),
    ({"PORT": "70000"}, "PORT='70000'", False),
    ({"LOG_LEVEL": "loud"}, "LOG_LEVEL='loud'", False),
    ({"PROCESS_MANAGER": "x"}, "PROCESS_MANAGER='x'", False),
    ({"LOG_FORMAT": "xml"}, "LOG_FORMAT='xml'", False),
    ({"TIMEOUT": "soon"}, "TIMEOUT='soon'", False),
    ({"WORKER_CLASS": "sync"}, "WORKER_CLASS='sync'", False),
    ({"BIND": "0.0.0.0"}, "BIND='0.0.0.0'", False),
    ({"GUNICORN_CONF": "/nope.py"}, "GUNICORN_CONF='/nope.py'", False),
    ({"PROCESS_MANAGER": "uvicorn", "MAX_WORKERS": "-1"}, "MAX_WORKERS='-1'", False),
    # Each of these used to start, or fail later and elsewhere (at bind, or in a worker restart loop).
    ({"HOST": "localhost:8080"}, "HOST='localhost:8080' is not valid", True),
    ({"HOST": "999.1.1.1"}, "HOST='999.1.1.1' is not valid", False),
    ({"BIND": "0.0.0.0:0"}, "BIND='0.0.0.0:0' is not valid", False),
    ({"BIND": "::1:80"}, "BIND='::1:80' is not valid", False),
    ({"BIND": "unix:"}, "BIND='unix:' is not valid", False),
    ({"BIND": "fd://abc"}, "BIND='fd://abc' is not valid", False),
    ({"WEB_CONCURRENCY": "1_000"}, "WEB_CONCURRENCY='1_000' is not valid", False),
    ({"PORT": "+80"}, "PORT='+80' is not valid", False),
    ({"MAX_WORKERS": " 8 "}, "MAX_WORKERS=' 8 ' is not valid", False),
    ({"WORKERS_PER_CORE": "1e1"}, "WORKERS_PER_CORE='1e1' is not valid", False),
    ({"MAX_REQUESTS": "many"}, "MAX_REQUESTS='many' is not valid", False),
    ({"PRELOAD_APP": "yes"}, "PRELOAD_APP='yes' is not valid", False),
    ({"PROMETHEUS_MULTIPROC_DIR": "/"}, "PROMETHEUS_MULTIPROC_DIR='/' is not valid", False),
    ({"PROCESS_MANAGER": "uvicorn", "PRELOAD_APP": "true"}, "PRELOAD_APP='true' is not valid", False),
    ({"PROCESS_MANAGER": "uvicorn", "MAX_REQUESTS": "1000"}, "MAX_REQUESTS='1000' is not valid", False),
    ({"MAX_WORKER_MEMORY_MB": "1G"}, "MAX_WORKER_MEMORY_MB='1G' is not valid", False),
    (
        {"PROCESS_MANAGER": "uvicorn", "MAX_WORKER_MEMORY_MB": "512"},
        "MAX_WORKER_MEMORY_MB='512' is not valid: expected 0 with PROCESS_MANAGER=uvicorn",
        False,
    ),
    ({"DRAIN_SECONDS": "5s"}, "DRAIN_SECONDS='5s' is not valid: expected a whole number from 0 up", False),
    (
        {"PROCESS_MANAGER": "uvicorn", "DRAIN_SECONDS": "15"},
        "DRAIN_SECONDS='15' is not valid: expected 0 with PROCESS_MANAGER=uvicorn",
        False,
    ),
    (
        {"PROCESS_MANAGER": "uvicorn", "TIMEOUT": "0"},
        "TIMEOUT='0' is not valid: expected a whole number from 1 up with PROCESS_MANAGER=uvicorn",
        True,
    ),
    ({"WORKER_CLASS": "nowhere.Worker"}, "WORKER_CLASS='nowhere.Worker': no module named 'nowhere'", True),
    (
        {"WORKER_CLASS": "uvicorn_worker.Missing"},
        "WORKER_CLASS='uvicorn_worker.Missing': module 'uvicorn_worker' has no attribute 'Missing'",
        False,
    ),
    ({"WORKER_CLASS": "json.JSONDecoder"}, "WORKER_CLASS='json.JSONDecoder' is not a Gunicorn worker class", False),
    ({"ACCESS_LOG_EXCLUDE_PATHS": "/health,metrics"}, "ACCESS_LOG_EXCLUDE_PATHS='/health,metrics' is not valid", True),
    ({"ACCESS_LOG_FORMAT": "%(h)s %(nope)s"}, "ACCESS_LOG_FORMAT='%(h)s %(nope)s' is not valid", True),
    ({"ACCESS_LOG_FORMAT": "%(h)s %s"}, "ACCESS_LOG_FORMAT='%(h)s %s' is not valid", False),
    (
        {"GUNICORN_CMD_ARGS": "--access-logformat '%(h)s %(s)d%'"},
        "access_log_format='%(h)s %(s)d%' is not valid",
        False,
    ),
    (
        {"PROCESS_MANAGER": "uvicorn", "ACCESS_LOG_FORMAT": "%(U"},
        "ACCESS_LOG_FORMAT='%(U' is not valid",
        False,
    ),
    (
        {"PROCESS_MANAGER": "uvicorn", "WORKER_CLASS": "app.workers.MyWorker"},
        "WORKER_CLASS='app.workers.MyWorker' is not valid",
        False,
    ),
]


def _cases(table: list[tuple[dict[str, str], str, bool]]) -> list[ParameterSet]:
    """(environment, what the one error line must say, whether emulated platforms run it too)"""
    return [
        pytest.param(
            env,
            expected,
            id="+".join(f"{name}={value}" for name, value in env.items()),
            marks=[pytest.mark.every_platform] if everywhere else [],
        )
        for env, expected, everywhere in table
    ]


@pytest.mark.parametrize(("env", "expected"), _cases(BAD_SETTINGS))
def test_bad_setting_is_named_in_one_line(
    image: ImageUnderTest, platform: str, env: dict[str, str], expected: str
) -> None:
    # A worker restart loop would never exit: waiting a minute is ample for the one line.
    _assert_one_line_error(run_to_exit(image.image_id, platform, env, timeout=60), expected)


def _assert_one_line_error(exited: Exited, expected: str) -> None:
    errors = [line for line in exited.stderr.splitlines() if line.strip()]
    assert exited.code == 2, exited
    assert len(errors) == 1, errors
    assert errors[0].startswith("error: ") and expected in errors[0], errors
    assert "Traceback" not in exited.stdout + exited.stderr
    assert "Booting worker" not in exited.stdout + exited.stderr
    assert exited.seconds < 30


APP_ERRORS = [
    # (environment, what the one error line must say, whether emulated platforms run it too)
    ({"APP_MODULE": "nowhere:app"}, "APP_MODULE='nowhere:app': no module named 'nowhere'", True),
    ({"VARIABLE_NAME": "missing"}, "VARIABLE_NAME='missing': module 'main' has no attribute 'missing'", False),
    ({"VARIABLE_NAME": "GREETING"}, "'main:GREETING' is not callable, so it is not an ASGI application", False),
    ({"WEB_CONCURRENCY": "1", "APP_MODULE": "nowhere:app"}, "no module named 'nowhere'", False),
    ({"WEB_CONCURRENCY": "6", "APP_MODULE": "nowhere:app"}, "no module named 'nowhere'", False),
]


@pytest.mark.parametrize(("env", "expected"), _cases(APP_ERRORS))
def test_an_app_gunicorn_cannot_load_is_named_in_one_line(
    image: ImageUnderTest, platform: str, env: dict[str, str], expected: str
) -> None:
    assert_app_error(run_to_exit(image.image_id, platform, env, timeout=60), expected)


def test_app_that_fails_to_import(child_images: ChildImages, platform: str) -> None:
    child = child_images.build(platform, {"main.py": BROKEN_APP})
    assert_app_error(
        run_to_exit(child, platform, {}),
        "importing 'main' failed: ZeroDivisionError: division by zero (/app/main.py, line 2)",
    )


@pytest.mark.parametrize("manager", ["uvicorn", "reload"])
def test_uvicorn_has_the_launcher_import_the_app_first(child_images: ChildImages, platform: str, manager: str) -> None:
    """Uvicorn's supervisor would restart a worker that cannot import the application, in a
    loop: under it the launcher imports the application before the server exists."""
    child = child_images.build(platform, {"main.py": BROKEN_APP})
    if manager == "reload":
        exited = run_to_exit(child, platform, {}, command="/start-reload.sh")
    else:
        exited = run_to_exit(child, platform, {"PROCESS_MANAGER": "uvicorn"})
    _assert_one_line_error(exited, "importing 'main' failed: ZeroDivisionError: division by zero")


def test_reload_refuses_an_inherited_socket(image: ImageUnderTest, platform: str) -> None:
    # Uvicorn's --reload takes host:port or a unix socket; fd://3 used to become `--host fd --port //3`.
    exited = run_to_exit(image.image_id, platform, {"BIND": "fd://3"}, command="/start-reload.sh")
    _assert_one_line_error(exited, "BIND='fd://3' is not valid: expected host:port or unix:/path with /start-reload.sh")


def test_no_application_at_all(child_images: ChildImages, platform: str) -> None:
    child = child_images.build(platform, {"README": "nothing to run\n"}, "RUN rm /app/main.py\n")
    exited = run_to_exit(child, platform, {})
    assert exited.code == 2
    assert exited.stderr.strip() == (
        "error: no application found: neither /app/app/main.py nor /app/main.py exists; set APP_MODULE or MODULE_NAME"
    )


def test_app_that_calls_sys_exit_at_import(child_images: ChildImages, platform: str) -> None:
    # It used to end the start silently, with the application's own exit code (here 0).
    child = child_images.build(platform, {"main.py": "import sys\nsys.exit(0)\n"})
    exited = run_to_exit(child, platform, {})
    assert_app_error(
        exited,
        "MODULE_NAME='main' VARIABLE_NAME='app': importing 'main' failed: it called sys.exit(0) (/app/main.py, line 2)",
    )


WORKERS_MODULE = "class NotAWorker:\n    pass\n"
BROKEN_WORKERS_MODULE = "value = 1 / 0\n"


@pytest.mark.parametrize(
    ("files", "env", "expected"),
    [
        pytest.param(
            {"workers.py": WORKERS_MODULE},
            {"WORKER_CLASS": "workers.NotAWorker"},
            "WORKER_CLASS='workers.NotAWorker' is not a Gunicorn worker class: "
            "expected a subclass of gunicorn.workers.base.Worker",
            id="WORKER_CLASS-not-a-worker",
        ),
        pytest.param(
            {"workers.py": BROKEN_WORKERS_MODULE},
            {"WORKER_CLASS": "workers.MyWorker"},
            "WORKER_CLASS='workers.MyWorker': importing 'workers' failed: ZeroDivisionError: division by zero "
            "(/app/workers.py, line 1)",
            id="WORKER_CLASS-import-fails",
        ),
        pytest.param(
            {"workers.py": WORKERS_MODULE, "gunicorn_conf.py": "worker_class = 'workers.NotAWorker'\n"},
            {},
            "worker_class='workers.NotAWorker' in /app/gunicorn_conf.py is not a Gunicorn worker class",
            id="config-file-not-a-worker",
        ),
        pytest.param(
            {"gunicorn_conf.py": "workers = 2\nbind = undefined_name\n"},
            {},
            "GUNICORN_CONF='/app/gunicorn_conf.py': running it failed: NameError: name 'undefined_name' is not "
            "defined (/app/gunicorn_conf.py, line 2)",
            id="config-file-fails",
        ),
    ],
)
def test_bad_worker_class_or_config_file_of_the_application(
    child_images: ChildImages, platform: str, files: dict[str, str], env: dict[str, str], expected: str
) -> None:
    child = child_images.build(platform, files)
    _assert_one_line_error(run_to_exit(child, platform, env), expected)


def test_image_config_file_run_by_gunicorn_itself_exits_2(image: ImageUnderTest, platform: str) -> None:
    """A command of one's own, as the original image's users wrote them: /gunicorn_conf.py still
    names the bad value in one line, with the same exit code as the launcher (it used to exit 1)."""
    command = "gunicorn -k uvicorn_worker.UvicornWorker -c /gunicorn_conf.py main:app"
    exited = run_to_exit(image.image_id, platform, {"WORKERS_PER_CORE": "abc"}, command=command)
    _assert_one_line_error(exited, "WORKERS_PER_CORE='abc' is not valid: expected a number above 0")
