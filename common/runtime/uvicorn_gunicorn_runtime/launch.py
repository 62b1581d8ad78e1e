"""Checks every setting, then runs the server in this process, so that it stays PID 1.

    python -m uvicorn_gunicorn_runtime.launch           # production: Gunicorn or Uvicorn's manager
    python -m uvicorn_gunicorn_runtime.launch --reload  # development: one Uvicorn process, live reload

Any problem ends the start with one line on standard error and exit code 2, before a
server exists that could restart failing workers in a loop. Gunicorn runs here, in-process,
and its workers' own import of the application is the check (see gunicorn_server); Uvicorn,
which cannot report a worker's failed import that way, is exec'd after the launcher has
imported the application once.

With the application in a virtual environment (see virtual_env), the launcher first becomes
itself again under that environment's interpreter, in the same process.
"""

from __future__ import annotations

import gc
import json
import os
import sys
from pathlib import Path

from uvicorn_gunicorn_runtime.binding import bind_address
from uvicorn_gunicorn_runtime.discovery import IMAGE_GUNICORN_CONF
from uvicorn_gunicorn_runtime.environment import SettingError
from uvicorn_gunicorn_runtime.settings import Settings, load_in_container
from uvicorn_gunicorn_runtime.virtual_env import (
    add_image_packages,
    exec_under,
    find_virtual_env,
    image_packages,
    runs_here,
)
from uvicorn_gunicorn_runtime.workers import H11_WORKER_CLASS, renamed_worker_class_notice

# Gunicorn's --config when the application brings its own file (see that module).
USER_CONF_LAYER = Path(__file__).with_name("user_gunicorn_conf.py")
# What Uvicorn serves with the access log on: a factory of the application in the access layer.
ACCESS_LAYER = "uvicorn_gunicorn_runtime.access_lines:uvicorn_app"


def _listen_arguments(bind: str) -> list[str]:
    address = bind_address(bind)
    if address is None:
        raise SettingError(f"BIND={bind!r} is not valid: expected host:port or unix:/path with /start-reload.sh")
    if isinstance(address, str):
        return ["--uds", address]
    host, port = address
    return ["--host", host, "--port", str(port)]


def _uvicorn_common(settings: Settings, logging_config: Path | None) -> list[str]:
    """Uvicorn's own access line is always off: with the access log on, Uvicorn serves the
    application inside the image's access layer (see access_lines), which writes the lines."""
    app = settings.app
    if settings.access_log:
        arguments = [ACCESS_LAYER, "--factory"]
    else:
        arguments = [f"{app.module}:{app.variable}", *(["--factory"] if app.factory else [])]
    arguments += [*_listen_arguments(settings.bind), "--log-level", settings.log_level, "--no-access-log"]
    if logging_config is not None:
        arguments += ["--log-config", str(logging_config)]
    return arguments


def gunicorn_command(settings: Settings) -> list[str]:
    """Gunicorn with the image's configuration file, or the application's own on top of the
    image's worker class; GUNICORN_CMD_ARGS, read by Gunicorn after either, wins over both."""
    command = ["gunicorn"]
    if settings.gunicorn_conf == IMAGE_GUNICORN_CONF:
        command += ["--config", IMAGE_GUNICORN_CONF]
    elif settings.gunicorn_conf:
        command += ["--config", str(USER_CONF_LAYER)]
    return [*command, settings.app.spec]


def uvicorn_cli() -> list[str]:
    """Uvicorn's command line under this interpreter, whatever `uvicorn` PATH holds, with the
    image's packages after a virtual environment's (see uvicorn_cli)."""
    return [sys.executable, "-m", "uvicorn_gunicorn_runtime.uvicorn_cli"]


def uvicorn_command(settings: Settings, logging_config: Path | None = None) -> list[str]:
    command = [*uvicorn_cli(), *_uvicorn_common(settings, logging_config), "--workers", str(settings.workers.count)]
    command += ["--timeout-keep-alive", str(settings.keep_alive)]
    command += ["--timeout-graceful-shutdown", str(settings.graceful_timeout)]
    command += ["--timeout-worker-healthcheck", str(settings.timeout)]
    command += ["--forwarded-allow-ips", settings.forwarded_allow_ips, "--proxy-headers"]
    if settings.worker_class == H11_WORKER_CLASS:
        command += ["--http", "h11", "--loop", "asyncio"]
    return command


def reload_command(settings: Settings, logging_config: Path | None = None) -> list[str]:
    return [*uvicorn_cli(), *_uvicorn_common(settings, logging_config), "--reload", "--reload-dir", "/app"]


def _uvicorn_server(settings: Settings, reload: bool) -> list[str]:
    """The Uvicorn command to exec, once the application has imported here: Uvicorn's
    supervisor would restart a worker that cannot import it, in a loop."""
    from uvicorn_gunicorn_runtime.app_import import load_app

    load_app(settings.app)
    if reload:
        return reload_command(settings, _uvicorn_logging(settings, buffered=False))  # each line at once
    return uvicorn_command(settings, _uvicorn_logging(settings, settings.access_log_flush_seconds > 0))


def _uvicorn_logging(settings: Settings, buffered: bool) -> Path:
    from uvicorn_gunicorn_runtime.uvicorn_logging import write_logging_config

    try:
        return write_logging_config(settings.log_format, buffered, settings.log_level)
    except OSError as error:
        raise SettingError(f"Uvicorn's logging configuration cannot be written: {error}") from None


def _prepare_metrics(settings: Settings) -> str | None:
    """Readies PROMETHEUS_MULTIPROC_DIR, if set, before any worker exists; the notice to print
    when prometheus_client is not installed."""
    if settings.prometheus_multiproc_dir is None:
        return None
    from uvicorn_gunicorn_runtime.prometheus import client_installed, missing_client_notice, prepare_directory

    prepare_directory(settings.prometheus_multiproc_dir)
    return None if client_installed() else missing_client_notice()


def _record_for_healthcheck(settings: Settings) -> None:
    """Where Uvicorn, exec'd next, is to listen, for the health check (BIND=fd://N is refused)."""
    from uvicorn_gunicorn_runtime.healthcheck import tcp, unix, write_record

    address = bind_address(settings.bind)
    if address is not None:
        write_record([unix(address) if isinstance(address, str) else tcp(*address)], settings.healthcheck_path)


def main(argv: list[str]) -> int:
    if argv[1:] not in ([], ["--reload"]):
        print(f"error: unknown arguments {argv[1:]}; the only option is --reload", file=sys.stderr)
        return 2
    reload = argv[1:] == ["--reload"]
    uvicorn_server: list[str] | None = None
    try:
        virtual_env = find_virtual_env(os.environ)
        if virtual_env is not None and not runs_here(virtual_env):
            exec_under(virtual_env, argv[1:], os.environ)
        add_image_packages(os.environ)
        settings = load_in_container(os.environ, virtual_env)
        if virtual_env is not None:
            from uvicorn_gunicorn_runtime import server_stack  # importlib.metadata: for a virtual env only

            server_stack.check(virtual_env, settings.server_packages(), sys.path, image_packages(os.environ))
        metrics_notice = _prepare_metrics(settings)
        if reload or settings.process_manager == "uvicorn":
            uvicorn_server = _uvicorn_server(settings, reload)
    except SettingError as error:
        print(f"error: {error}", file=sys.stderr, flush=True)
        return 2
    os.environ["APP_MODULE"] = settings.app.spec  # the server's environment has it, as the original's had
    if uvicorn_server is not None:
        _record_for_healthcheck(settings)  # Gunicorn's master records its own listeners
        if not reload:
            _print_notices(metrics_notice)
            # Gunicorn's config file prints this line itself; Uvicorn has no such hook.
            print(json.dumps(settings.summary()), flush=True)
        return exec_server(uvicorn_server)
    _print_notices(metrics_notice)
    _warn_of_overcommit(settings)
    if settings.gunicorn_conf:
        os.environ["GUNICORN_CONF"] = settings.gunicorn_conf  # the file USER_CONF_LAYER runs
    gc.disable()  # before Gunicorn's imports, until the first fork: see gunicorn_server
    from uvicorn_gunicorn_runtime.gunicorn_server import serve

    marks_dead = settings.prometheus_multiproc_dir is not None and metrics_notice is None
    # The image's configuration file, which Gunicorn runs next in this process, takes this
    # reading: the container's limits are read, and any warning printed, once.
    return serve(
        settings.app,
        gunicorn_command(settings),
        mark_dead_workers=marks_dead,
        handed_over=settings,
        memory_ceiling_mb=settings.max_worker_memory_mb,
        drain_seconds=settings.drain_seconds,
    )


def _print_notices(metrics_notice: str | None) -> None:
    given = os.environ.get("WORKER_CLASS")
    for notice in (metrics_notice, renamed_worker_class_notice(given, f"WORKER_CLASS={given!r}")):
        if notice:
            print(notice, flush=True)


def _warn_of_overcommit(settings: Settings) -> None:
    from uvicorn_gunicorn_runtime.worker_memory import overcommit_warning

    plan = settings.workers
    warning = overcommit_warning(settings.max_worker_memory_mb, plan.count, plan.memory_limit_mb)
    if warning:
        print(warning, file=sys.stderr, flush=True)


def exec_server(command: list[str]) -> int:
    os.execvp(command[0], command)
    return 1  # not reached: execvp replaces this process or raises


if __name__ == "__main__":
    sys.exit(main(sys.argv))
