"""Checks every setting and the application, then becomes the server (exec, so it stays PID 1).

    python -m uvicorn_gunicorn_runtime.launch           # production: Gunicorn or Uvicorn's manager
    python -m uvicorn_gunicorn_runtime.launch --reload  # development: one Uvicorn process, live reload

Any problem ends the start with one line on standard error and exit code 2, before a
server exists that could restart failing workers in a loop.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import traceback
from pathlib import Path

from uvicorn_gunicorn_runtime.settings import AppTarget, SettingError, Settings, load_from_container

JSON_LOG_CONFIG = Path(__file__).with_name("log_config_json.json")
H11_WORKER = "uvicorn_worker.UvicornH11Worker"


def check_app(app: AppTarget) -> None:
    """Imports the application once, so that a broken one fails here, in one line."""
    try:
        module = importlib.import_module(app.module)
    except Exception as error:
        if isinstance(error, ModuleNotFoundError) and _is_part_of(error.name, app.module):
            raise SettingError(f"{app.describe()}: no module named {error.name!r}") from None
        raise SettingError(f"{app.describe()}: importing {app.module!r} failed: {_one_line(error)}") from None
    if not hasattr(module, app.variable):
        raise SettingError(f"{app.describe()}: module {app.module!r} has no attribute {app.variable!r}")
    if not callable(getattr(module, app.variable)):
        raise SettingError(f"{app.describe()}: {app.spec!r} is not callable, so it is not an ASGI application")


def _is_part_of(missing: str | None, module: str) -> bool:
    """Whether the module not found is `module` or a package above it (not one it imports)."""
    return missing is not None and (module == missing or module.startswith(missing + "."))


def _one_line(error: BaseException) -> str:
    frame = traceback.extract_tb(error.__traceback__)[-1] if error.__traceback__ else None
    where = f" ({frame.filename}, line {frame.lineno})" if frame else ""
    return f"{type(error).__name__}: {error}{where}".replace("\n", " ")


def _host_and_port(bind: str) -> list[str]:
    if bind.startswith("unix:"):
        return ["--uds", bind.removeprefix("unix:")]
    host, _, port = bind.rpartition(":")
    return ["--host", host.strip("[]"), "--port", port]


def _uvicorn_common(settings: Settings) -> list[str]:
    arguments = [settings.app.spec, *_host_and_port(settings.bind), "--log-level", settings.log_level]
    arguments += ["--access-log"] if settings.access_log else ["--no-access-log"]
    if settings.log_format == "json":
        arguments += ["--log-config", str(JSON_LOG_CONFIG)]
    return arguments


def gunicorn_command(settings: Settings) -> list[str]:
    command = ["gunicorn"]
    if settings.gunicorn_conf:
        command += ["--config", settings.gunicorn_conf]
    return [*command, settings.app.spec]


def gunicorn_cmd_args(settings: Settings, user_args: str) -> str:
    """GUNICORN_CMD_ARGS with the worker class first: a config file of the user's own would
    otherwise leave Gunicorn's synchronous default, and the user's own arguments still win."""
    return f"--worker-class {settings.worker_class} {user_args}".strip()


def uvicorn_command(settings: Settings) -> list[str]:
    command = ["uvicorn", *_uvicorn_common(settings), "--workers", str(settings.workers.count)]
    command += ["--timeout-keep-alive", str(settings.keep_alive)]
    command += ["--timeout-graceful-shutdown", str(settings.graceful_timeout)]
    command += ["--timeout-worker-healthcheck", str(settings.timeout)]
    command += ["--forwarded-allow-ips", settings.forwarded_allow_ips, "--proxy-headers"]
    if settings.worker_class == H11_WORKER:
        command += ["--http", "h11", "--loop", "asyncio"]
    return command


def reload_command(settings: Settings) -> list[str]:
    return ["uvicorn", *_uvicorn_common(settings), "--reload", "--reload-dir", "/app"]


def main(argv: list[str]) -> int:
    if argv[1:] not in ([], ["--reload"]):
        print(f"error: unknown arguments {argv[1:]}; the only option is --reload", file=sys.stderr)
        return 2
    reload = argv[1:] == ["--reload"]
    try:
        settings = load_from_container(os.environ)
        check_app(settings.app)
    except SettingError as error:
        print(f"error: {error}", file=sys.stderr, flush=True)
        return 2
    if reload:
        command = reload_command(settings)
    elif settings.process_manager == "uvicorn":
        # Gunicorn's config file prints this line itself; Uvicorn has no such hook.
        print(json.dumps(settings.summary()), flush=True)
        command = uvicorn_command(settings)
    else:
        os.environ["GUNICORN_CMD_ARGS"] = gunicorn_cmd_args(settings, os.environ.get("GUNICORN_CMD_ARGS", ""))
        command = gunicorn_command(settings)
    os.execvp(command[0], command)
    return 1  # not reached: execvp replaces this process or raises


if __name__ == "__main__":
    sys.exit(main(sys.argv))
