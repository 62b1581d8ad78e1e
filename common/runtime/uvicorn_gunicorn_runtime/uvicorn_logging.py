"""Uvicorn's logging configuration under its own manager (PROCESS_MANAGER=uvicorn) and for
/start-reload.sh: the image's access lines (see access_lines) on standard output, batched or
not (see access_log), Uvicorn's own access line off; JSON lines for LOG_FORMAT=json, the
application's own loggers included.

Uvicorn reads a configuration only from a file (`--log-config`): the launcher writes it to
/dev/shm, which is writable under any user and on a read-only root."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from uvicorn_gunicorn_runtime.access_log import ACCESS_LOGGER

CONFIG_FILE = Path("/dev/shm/uvicorn-gunicorn-logging.json")
STANDARD_HANDLER = "logging.StreamHandler"
BUFFERED_HANDLER = "uvicorn_gunicorn_runtime.access_log.BufferedAccessHandler"
# Uvicorn's own format for its error lines, as its default configuration writes it; access
# lines with the same level prefix, without its colours.
TEXT_FORMATTERS = {
    "error": {"()": "uvicorn.logging.DefaultFormatter", "fmt": "%(levelprefix)s %(message)s", "use_colors": None},
    "access": {"()": "uvicorn_gunicorn_runtime.access_log.AccessTextFormatter", "prefix": "INFO:     "},
}
JSON_FORMATTERS = {name: {"()": "uvicorn_gunicorn_runtime.json_format.JsonFormatter"} for name in ("error", "access")}


def logging_config(log_format: str, buffered: bool, log_level: str) -> dict[str, Any]:
    """A logging.config.dictConfig dictionary. Uvicorn's loggers are as in its default; its
    access logger has no handler, so that Uvicorn writes no line of its own (it checks that
    before making one); the image's access logger is at LOG_LEVEL, as Uvicorn's was. With JSON
    the root logger writes the application's own lines as the error lines, at LOG_LEVEL."""
    level = log_level.upper()
    config: dict[str, Any] = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": JSON_FORMATTERS if log_format == "json" else TEXT_FORMATTERS,
        "handlers": {
            "error": {"class": STANDARD_HANDLER, "formatter": "error", "stream": "ext://sys.stderr"},
            "access": {
                "class": BUFFERED_HANDLER if buffered else STANDARD_HANDLER,
                "formatter": "access",
                "stream": "ext://sys.stdout",
            },
        },
        "loggers": {
            "uvicorn": {"handlers": ["error"], "level": "INFO", "propagate": False},
            "uvicorn.error": {"level": "INFO"},
            "uvicorn.access": {"handlers": [], "level": "INFO", "propagate": False},
            ACCESS_LOGGER: {"handlers": ["access"], "level": level, "propagate": False},
        },
    }
    if log_format == "json":
        config["root"] = {"handlers": ["error"], "level": level}
    return config


def write_logging_config(log_format: str, buffered: bool, log_level: str) -> Path:
    """The file for `--log-config`."""
    path = CONFIG_FILE
    path.write_text(json.dumps(logging_config(log_format, buffered, log_level)))
    return path
