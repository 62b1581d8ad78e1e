"""LOG_FORMAT=json: a log line as one JSON object."""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime
from typing import Any

ACCESS_LOGGER = "uvicorn.access"
# uvicorn.access records carry these arguments, in this order.
ACCESS_FIELDS = ("client", "method", "path", "http_version", "status")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = _entry(record.created, record.levelname.lower(), record.name, record.getMessage(), record.args)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)

    def access_line(self, msg: object, args: tuple[object, ...]) -> str:
        """The line format() makes of an uvicorn.access info record, made without the record."""
        message = str(msg) % args if args else str(msg)
        return json.dumps(_entry(time.time(), "info", ACCESS_LOGGER, message, args), default=str)


def _entry(created: float, level: str, logger: str, message: str, args: object) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "time": datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds"),
        "level": level,
        "logger": logger,
        "message": message,
    }
    if logger == ACCESS_LOGGER and isinstance(args, tuple) and len(args) == 5:
        entry.update(zip(ACCESS_FIELDS, args, strict=True))
    return entry
