from __future__ import annotations

import pytest
from uvicorn_gunicorn_runtime.discovery import AppTarget, discover_app, gunicorn_conf
from uvicorn_gunicorn_runtime.environment import Environment, SettingError

from tests.unit.runtime.readings import setting_error

IMAGE_FILES = ("/app/main.py", "/gunicorn_conf.py")


def _app(env: dict[str, str], files: tuple[str, ...] = IMAGE_FILES) -> AppTarget:
    return discover_app(Environment(env), lambda path: path in files)


def _conf(env: dict[str, str], files: tuple[str, ...] = IMAGE_FILES) -> str | None:
    return gunicorn_conf(Environment(env), lambda path: path in files)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"APP_MODULE": "main"}, "APP_MODULE='main' is not valid: expected module:variable"),
        ({"APP_MODULE": "main:app\n"}, "APP_MODULE='main:app\\n' is not valid"),
        ({"MODULE_NAME": "my-app"}, "MODULE_NAME='my-app' is not valid"),
        ({"MODULE_NAME": "main\n"}, "MODULE_NAME='main\\n' is not valid"),
        ({"VARIABLE_NAME": "app('prod')"}, "VARIABLE_NAME=\"app('prod')\" is not valid"),
    ],
)
def test_bad_application_names_in_one_line(env: dict[str, str], message: str) -> None:
    assert setting_error(lambda: _app(env)).startswith(message)


def test_no_application_found() -> None:
    with pytest.raises(SettingError, match=r"^no application found: neither /app/app/main\.py nor /app/main\.py"):
        _app({}, files=())


@pytest.mark.parametrize(
    ("env", "files", "spec", "named_by"),
    [
        ({}, ("/app/app/main.py", "/app/main.py"), "app.main:app", ("MODULE_NAME", "VARIABLE_NAME")),
        ({}, ("/app/main.py",), "main:app", ("MODULE_NAME", "VARIABLE_NAME")),
        ({"MODULE_NAME": "svc.api", "VARIABLE_NAME": "api"}, (), "svc.api:api", ("MODULE_NAME", "VARIABLE_NAME")),
        ({"APP_MODULE": "x.y:z", "MODULE_NAME": "ignored"}, ("/app/main.py",), "x.y:z", ("APP_MODULE",)),
    ],
)
def test_app_discovery(env: dict[str, str], files: tuple[str, ...], spec: str, named_by: tuple[str, ...]) -> None:
    app = _app(env, files)
    assert (app.spec, app.named_by) == (spec, named_by)


@pytest.mark.parametrize(
    ("env", "target", "described"),
    [
        ({"APP_MODULE": "main:create_app()"}, ("main", "create_app", True), "APP_MODULE='main:create_app()'"),
        (
            {"MODULE_NAME": "svc", "VARIABLE_NAME": "make()"},
            ("svc", "make", True),
            "MODULE_NAME='svc' VARIABLE_NAME='make()'",
        ),
        ({"MODULE_NAME": "svc"}, ("svc", "app", False), "MODULE_NAME='svc' VARIABLE_NAME='app'"),
    ],
)
def test_a_target_says_which_variables_named_it(
    env: dict[str, str], target: tuple[str, str, bool], described: str
) -> None:
    app = _app(env)
    assert (app.module, app.variable, app.factory) == target
    assert app.describe() == described


@pytest.mark.parametrize(
    ("env", "files", "conf"),
    [
        ({}, ("/app/main.py", "/app/gunicorn_conf.py", "/gunicorn_conf.py"), "/app/gunicorn_conf.py"),
        ({}, ("/app/main.py", "/app/app/gunicorn_conf.py", "/gunicorn_conf.py"), "/app/app/gunicorn_conf.py"),
        ({}, IMAGE_FILES, "/gunicorn_conf.py"),
        ({"GUNICORN_CONF": "/etc/g.py"}, ("/app/main.py", "/app/gunicorn_conf.py", "/etc/g.py"), "/etc/g.py"),
        ({}, ("/app/main.py",), None),
    ],
)
def test_gunicorn_conf_location(env: dict[str, str], files: tuple[str, ...], conf: str | None) -> None:
    assert _conf(env, files) == conf


def test_a_missing_gunicorn_conf_in_one_line() -> None:
    assert (
        setting_error(lambda: _conf({"GUNICORN_CONF": "/nope.py"}))
        == "GUNICORN_CONF='/nope.py' is not valid: expected the path of an existing file"
    )
