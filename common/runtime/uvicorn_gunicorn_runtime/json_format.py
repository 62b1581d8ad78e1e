"""LOG_FORMAT=json: a log line as one JSON object."""

from __future__ import annotations

import json
import logging
import math
import time
from datetime import UTC, datetime
from json.encoder import encode_basestring_ascii as _quoted  # json.dumps's own, in C
from typing import Any

# The LogRecord attribute (logging's `extra`) that carries an access line's fields.
ACCESS_FIELDS = "access_fields"


class JsonFormatter(logging.Formatter):
    """time, level, logger and message; an access line's fields (see access_format); the
    exception's traceback, if any."""

    def format(self, record: logging.LogRecord) -> str:
        fields = getattr(record, ACCESS_FIELDS, None)
        if isinstance(fields, dict) and not record.exc_info:
            return _access_line(record.created, record.levelname.lower(), record.name, record.getMessage(), fields)
        entry = _entry(record.created, record.levelname.lower(), record.name, record.getMessage())
        if isinstance(fields, dict):
            entry.update(fields)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)

    def access_line(self, logger: str, message: str, fields: dict[str, object]) -> str:
        """The line format() makes of an info record of `logger` with an access line's
        fields, made without the record."""
        return _access_line(time.time(), "info", logger, message, fields)


def _access_line(created: float, level: str, logger: str, message: str, fields: dict[str, object]) -> str:
    """What json.dumps makes of the entry and the fields, whose values are text, whole numbers,
    numbers or null: made here, for every request, at a fraction of json.dumps's cost."""
    parts = [
        f'{{"time": "{_time(created)}", "level": {_quoted(level)}, "logger": {_quoted(logger)}, '
        f'"message": {_quoted(message)}'
    ]
    for name, value in fields.items():
        if value is None:
            parts.append(f"{_quoted(name)}: null")
        elif type(value) is str:
            parts.append(f"{_quoted(name)}: {_quoted(value)}")
        else:
            parts.append(f"{_quoted(name)}: {value!r}")
    return ", ".join(parts) + "}"


def _time(created: float) -> str:
    """ISO 8601 in UTC to the millisecond, as datetime.isoformat writes it; the date and time of
    the second made once per second (a datetime costs as much as the rest of an access line)."""
    global _second, _second_text
    fraction, whole = math.modf(created)
    second, microseconds = int(whole), round(fraction * 1e6)  # rounded as datetime rounds them
    if microseconds >= 1_000_000:
        second, microseconds = second + 1, microseconds - 1_000_000
    elif microseconds < 0:
        second, microseconds = second - 1, microseconds + 1_000_000
    milliseconds = microseconds // 1000
    if second != _second:
        _second_text = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        _second = second
    return f"{_second_text}.{milliseconds:03d}+00:00"


_second, _second_text = -1, ""


def _entry(created: float, level: str, logger: str, message: str) -> dict[str, Any]:
    return {
        "time": _time(created),
        "level": level,
        "logger": logger,
        "message": message,
    }
