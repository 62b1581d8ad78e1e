"""A bad setting or a broken application stops the start in one clear line, without a restart loop."""

from __future__ import annotations

import pytest

from tests.image.conftest import ChildImages, ImageUnderTest
from tests.image.server import run_to_exit

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
    ({"APP_MODULE": "nowhere:app"}, "APP_MODULE='nowhere:app': no module named 'nowhere'", True),
    ({"VARIABLE_NAME": "missing"}, "VARIABLE_NAME='missing': module 'main' has no attribute 'missing'", False),
    ({"GUNICORN_CONF": "/nope.py"}, "GUNICORN_CONF='/nope.py'", False),
    ({"PROCESS_MANAGER": "uvicorn", "MAX_WORKERS": "-1"}, "MAX_WORKERS='-1'", False),
]


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        pytest.param(
            env,
            expected,
            id="+".join(f"{name}={value}" for name, value in env.items()),
            marks=[pytest.mark.every_platform] if everywhere else [],
        )
        for env, expected, everywhere in BAD_SETTINGS
    ],
)
def test_bad_setting_is_named_in_one_line(
    image: ImageUnderTest, platform: str, env: dict[str, str], expected: str
) -> None:
    exited = run_to_exit(image.image_id, platform, env)
    errors = [line for line in exited.stderr.splitlines() if line.strip()]
    assert exited.code == 2, exited
    assert len(errors) == 1, errors
    assert errors[0].startswith("error: ") and expected in errors[0], errors
    assert "Traceback" not in exited.stdout + exited.stderr
    assert "Booting worker" not in exited.stdout + exited.stderr
    assert exited.seconds < 30


def test_app_that_fails_to_import(child_images: ChildImages, platform: str) -> None:
    child = child_images.build(platform, {"main.py": BROKEN_APP})
    exited = run_to_exit(child, platform, {})
    errors = [line for line in exited.stderr.splitlines() if line.strip()]
    assert exited.code == 2
    assert len(errors) == 1, errors
    assert "importing 'main' failed: ZeroDivisionError: division by zero" in errors[0]
    assert "/app/main.py, line 2" in errors[0]
    assert "Traceback" not in exited.stderr


def test_no_application_at_all(child_images: ChildImages, platform: str) -> None:
    child = child_images.build(platform, {"README": "nothing to run\n"}, "RUN rm /app/main.py\n")
    exited = run_to_exit(child, platform, {})
    assert exited.code == 2
    assert exited.stderr.strip() == (
        "error: no application found: neither /app/app/main.py nor /app/main.py exists; set APP_MODULE or MODULE_NAME"
    )
