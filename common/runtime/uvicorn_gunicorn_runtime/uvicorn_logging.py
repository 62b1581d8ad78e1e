"""Uvicorn's logging configuration under its own manager (PROCESS_MANAGER=uvicorn) and for
/start-reload.sh: JSON lines for LOG_FORMAT=json, the access log batched (see access_log).

Uvicorn reads a configuration only from a file (`--log-config`): the launcher writes it to
/dev/shm, which is writable under any user and on a read-only root."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

CONFIG_FILE = Path("/dev/shm/uvicorn-gunicorn-logging.json")
STANDARD_HANDLER = "logging.StreamHandler"
BUFFERED_HANDLER = "uvicorn_gunicorn_runtime.access_log.BufferedAccessHandler"
# Uvicorn's own formats, as its default configuration writes them.
TEXT_FORMATTERS = {
    "error": {"()": "uvicorn.logging.DefaultFormatter", "fmt": "%(levelprefix)s %(message)s", "use_colors": None},
    "access": {
        "()": "uvicorn.logging.AccessFormatter",
        "fmt": '%(levelprefix)s %(client_addr)s - "%(request_line)s" %(status_code)s',
    },
}
JSON_FORMATTERS = {name: {"()": "uvicorn_gunicorn_runtime.logs.JsonFormatter"} for name in ("error", "access")}


def logging_config(log_format: str, buffered: bool) -> dict[str, Any]:
    """A logging.config.dictConfig dictionary; None of it differs from Uvicorn's default but the
    formatters (JSON) and the access log's handler (batched)."""
    access_class = BUFFERED_HANDLER if buffered else STANDARD_HANDLER
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": JSON_FORMATTERS if log_format == "json" else TEXT_FORMATTERS,
        "handlers": {
            "error": {"class": STANDARD_HANDLER, "formatter": "error", "stream": "ext://sys.stderr"},
            "access": {"class": access_class, "formatter": "access", "stream": "ext://sys.stdout"},
        },
        "loggers": {
            "uvicorn": {"handlers": ["error"], "level": "INFO", "propagate": False},
            "uvicorn.error": {"level": "INFO"},
            "uvicorn.access": {"handlers": ["access"], "level": "INFO", "propagate": False},
        },
    }


def write_logging_config(log_format: str, buffered: bool) -> Path | None:
    """The file for `--log-config`; None where Uvicorn's default is the same (text, unbatched)."""
    if log_format == "text" and not buffered:
        return None
    path = CONFIG_FILE
    path.write_text(json.dumps(logging_config(log_format, buffered)))
    return path
