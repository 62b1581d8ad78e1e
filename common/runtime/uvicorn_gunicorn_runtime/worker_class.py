"""The worker class Gunicorn loads, checked where Gunicorn loads it: in its master process,
from its configuration file (/gunicorn_conf.py, or user_gunicorn_conf.py for the
application's own file). Gunicorn imports the class there right after, so the check costs
no import of its own, and the launcher never loads this module."""

from __future__ import annotations

import importlib
import runpy
from collections.abc import Callable, Mapping
from typing import Any

from uvicorn_gunicorn_runtime.app_import import import_failure, one_line
from uvicorn_gunicorn_runtime.environment import Environment, SettingError
from uvicorn_gunicorn_runtime.workers import (
    DEFAULT_WORKER_CLASS,
    UVICORN_WORKER_CLASSES,
    WORKER_CLASS_FORM,
    renamed_worker_class_notice,
    worker_class_path,
)


def resolve_worker_class(value: object, named_by: str) -> object:
    """What Gunicorn is to load as its worker class, checked: a class, or a module.Class path
    (the original image's names replaced) to a subclass of gunicorn.workers.base.Worker."""
    if not isinstance(value, str):
        _check_worker(value, named_by)
        return value
    path = worker_class_path(value)
    if path is None:
        raise SettingError(f"{named_by} is not valid: expected {WORKER_CLASS_FORM}")
    if path not in UVICORN_WORKER_CLASSES:  # the image's own need no check
        _check_worker(_import_class(path, named_by), named_by)
    return path


def _check_worker(worker: object, named_by: str) -> None:
    from gunicorn.workers.base import Worker

    if not (isinstance(worker, type) and issubclass(worker, Worker)):
        expected = "a subclass of gunicorn.workers.base.Worker"
        raise SettingError(f"{named_by} is not a Gunicorn worker class: expected {expected}")


def _import_class(path: str, named_by: str) -> object:
    module_name, _, name = path.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except (Exception, SystemExit) as error:
        raise SettingError(import_failure(named_by, module_name, error)) from None
    if not hasattr(module, name):
        raise SettingError(f"{named_by}: module {module_name!r} has no attribute {name!r}")
    return getattr(module, name)


BUFFERED_LOGGER_CLASS = "uvicorn_gunicorn_runtime.logs.BufferedAccessLogger"


def layered_user_config(environ: Mapping[str, str]) -> dict[str, object]:
    """The settings of the application's own Gunicorn configuration file (GUNICORN_CONF, as the
    launcher set it), with the worker class decided: WORKER_CLASS, else the file's
    worker_class, else the image's default, which Gunicorn's own (sync, WSGI only) is not."""
    path = environ["GUNICORN_CONF"]
    try:
        settings = runpy.run_path(path, run_name="__config__")
    except (Exception, SystemExit) as error:
        raise SettingError(f"GUNICORN_CONF={path!r}: running it failed: {one_line(error)}") from None
    given = Environment(environ).text("WORKER_CLASS")
    if given is not None:
        chosen, named_by = given, f"WORKER_CLASS={given!r}"
    elif "worker_class" in settings:
        chosen, named_by = settings["worker_class"], f"worker_class={settings['worker_class']!r} in {path}"
        notice = renamed_worker_class_notice(chosen, named_by)
        if notice:
            print(notice, flush=True)
    else:
        chosen, named_by = DEFAULT_WORKER_CLASS, "the image's default worker class"
    settings["worker_class"] = resolve_worker_class(chosen, named_by)
    # The same lines, batched (ACCESS_LOG_FLUSH_SECONDS=0: one write per line); a file that
    # names its own logger class keeps it.
    settings.setdefault("logger_class", BUFFERED_LOGGER_CLASS)
    # The image's access lines (see access_lines), in the file's format unless ACCESS_LOG_FORMAT
    # (the launcher checked it) is set; then the file's own hook, if it has one.
    access_log_format = Environment(environ).text("ACCESS_LOG_FORMAT")
    if access_log_format is not None:
        settings["access_log_format"] = access_log_format
    settings["post_worker_init"] = _serving_access_lines(settings.get("post_worker_init"), path)
    settings.setdefault("proc_name", f"{environ.get('APP_MODULE', '')} -c {path}".strip())
    print(f"notice: Gunicorn runs the application's own configuration file {path}", flush=True)
    return {name: value for name, value in settings.items() if not name.startswith("__")}


def _serving_access_lines(configured: object, path: str) -> Callable[[Any], None]:
    """Gunicorn's post_worker_init hook: the image's, then the file's own."""
    from gunicorn.config import validate_callable

    from uvicorn_gunicorn_runtime.access_lines import serve_access_lines

    if configured is None:
        return serve_access_lines
    try:  # Gunicorn's own check: a callable of one argument, or the import path of one
        hook: Callable[[Any], None] = validate_callable(1)(configured)
    except Exception as error:
        raise SettingError(f"GUNICORN_CONF={path!r}: post_worker_init={configured!r}: {one_line(error)}") from None

    def post_worker_init(worker: Any) -> None:
        serve_access_lines(worker)
        hook(worker)

    return post_worker_init
