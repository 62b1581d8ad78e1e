from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from uvicorn_gunicorn_runtime.launch import (
    check_app,
    gunicorn_cmd_args,
    gunicorn_command,
    reload_command,
    uvicorn_command,
)
from uvicorn_gunicorn_runtime.limits import CpuLimit
from uvicorn_gunicorn_runtime.settings import AppTarget, SettingError, Settings, load_settings

APP = AppTarget("probe_app", "app", ("MODULE_NAME", "VARIABLE_NAME"))


def _settings(env: dict[str, str]) -> Settings:
    return load_settings(env, CpuLimit(2, None), None, lambda path: path in ("/app/main.py", "/gunicorn_conf.py"))


@pytest.fixture
def modules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh import path for a module named probe_app; write it, then call check_app."""
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop(APP.module, None)
    yield tmp_path
    sys.modules.pop(APP.module, None)


def _write(directory: Path, source: str) -> None:
    (directory / f"{APP.module}.py").write_text(source)
    importlib.invalidate_caches()


def test_importable_app_passes(modules: Path) -> None:
    _write(modules, "async def app(scope, receive, send):\n    pass\n")
    check_app(APP)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (None, "MODULE_NAME='probe_app' VARIABLE_NAME='app': no module named 'probe_app'"),
        ("api = 1\n", "module 'probe_app' has no attribute 'app'"),
        ("app = 42\n", "'probe_app:app' is not callable"),
        ("import missing_dependency\n", "importing 'probe_app' failed: ModuleNotFoundError: No module named"),
        ("x = 1\nraise RuntimeError('boom')\n", "importing 'probe_app' failed: RuntimeError: boom ("),
        ("def app(:\n", "importing 'probe_app' failed: SyntaxError"),
    ],
)
def test_broken_apps_fail_in_one_line(modules: Path, source: str | None, message: str) -> None:
    if source is not None:
        _write(modules, source)
    with pytest.raises(SettingError) as error:
        check_app(APP)
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_gunicorn_command() -> None:
    assert gunicorn_command(_settings({})) == ["gunicorn", "--config", "/gunicorn_conf.py", "main:app"]


def test_worker_class_reaches_gunicorn_before_the_users_own_arguments() -> None:
    settings = _settings({"WORKER_CLASS": "uvicorn_worker.UvicornH11Worker"})
    assert gunicorn_cmd_args(settings, "") == "--worker-class uvicorn_worker.UvicornH11Worker"
    assert gunicorn_cmd_args(settings, "--workers 3") == "--worker-class uvicorn_worker.UvicornH11Worker --workers 3"


def test_uvicorn_command_carries_the_shared_settings() -> None:
    env = {
        "PROCESS_MANAGER": "uvicorn",
        "WEB_CONCURRENCY": "3",
        "BIND": "[::]:8080",
        "LOG_LEVEL": "warning",
        "ACCESS_LOG": "",
        "KEEP_ALIVE": "7",
        "GRACEFUL_TIMEOUT": "9",
        "TIMEOUT": "30",
        "FORWARDED_ALLOW_IPS": "*",
        "WORKER_CLASS": "uvicorn_worker.UvicornH11Worker",
        "LOG_FORMAT": "json",
    }
    command = uvicorn_command(_settings(env))
    text = " ".join(command)
    assert command[:2] == ["uvicorn", "main:app"]
    for expected in (
        "--host :: --port 8080",
        "--log-level warning",
        "--no-access-log",
        "--workers 3",
        "--timeout-keep-alive 7",
        "--timeout-graceful-shutdown 9",
        "--timeout-worker-healthcheck 30",
        "--forwarded-allow-ips * --proxy-headers",
        "--http h11 --loop asyncio",
        "--log-config ",
    ):
        assert expected in text, expected
    assert Path(command[command.index("--log-config") + 1]).is_file()


def test_unix_socket_for_uvicorn() -> None:
    command = uvicorn_command(_settings({"PROCESS_MANAGER": "uvicorn", "BIND": "unix:/tmp/s.sock"}))
    assert "--uds /tmp/s.sock" in " ".join(command)


def test_reload_command_is_one_process() -> None:
    command = reload_command(_settings({"PORT": "8080"}))
    assert "--reload" in command
    assert "--workers" not in command
    assert "--host 0.0.0.0 --port 8080" in " ".join(command)
