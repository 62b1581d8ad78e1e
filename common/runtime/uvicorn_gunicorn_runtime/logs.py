"""LOG_FORMAT=json: every log line of Gunicorn and Uvicorn as one JSON object."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

from gunicorn.config import Config
from gunicorn.glogging import Logger

from uvicorn_gunicorn_runtime.access_log import BufferedAccessHandler, flush_seconds, install_access_logger

# uvicorn.access records carry these arguments, in this order.
ACCESS_FIELDS = ("client", "method", "path", "http_version", "status")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.name == "uvicorn.access" and isinstance(record.args, tuple) and len(record.args) == 5:
            entry.update(zip(ACCESS_FIELDS, record.args, strict=True))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class BufferedAccessLogger(Logger):  # type: ignore[misc]  # gunicorn ships no type information
    """Gunicorn's logger, with an access log to standard output written in batches (see
    access_log); Uvicorn's workers take these handlers for uvicorn.access."""

    def setup(self, cfg: Config) -> None:
        super().setup(cfg)
        if flush_seconds() == 0:
            return
        handlers = self.access_log.handlers
        for index, handler in enumerate(handlers):
            if type(handler) is logging.StreamHandler and handler.stream is sys.stdout:
                buffered = BufferedAccessHandler(sys.stdout)
                buffered.setFormatter(handler.formatter)
                buffered._gunicorn = True  # type: ignore[attr-defined]  # so that a reload replaces it
                handlers[index] = buffered
        install_access_logger()


class JsonLogger(BufferedAccessLogger):
    """Gunicorn's logger with JSON on every handler; Uvicorn's workers share these handlers."""

    def setup(self, cfg: Config) -> None:
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                handler.setFormatter(JsonFormatter())
