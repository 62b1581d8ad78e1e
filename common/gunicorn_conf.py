"""Gunicorn settings of the image. Every setting comes from an environment variable.

Loaded by Gunicorn with `-c`; prints the effective settings as one JSON line at start.
A bad value stops the server before it starts, with one line naming the variable.
"""

from __future__ import annotations

import json
import math
import os
import sys

LOG_LEVELS = ("critical", "error", "warning", "info", "debug")


def _fail(name: str, value: str, expected: str) -> None:
    sys.exit(f"error: {name}={value!r} is not valid: expected {expected}")


def _number(name: str, default: float, kind: type[int] | type[float], minimum: float) -> float:
    raw = os.environ.get(name, "")
    if raw == "":
        return default
    expected = f"{'a whole number' if kind is int else 'a number'} >= {minimum:g}"
    try:
        value = kind(raw)
    except ValueError:
        _fail(name, raw, expected)
    if not math.isfinite(value) or value < minimum:
        _fail(name, raw, expected)
    return value


def _worker_count(cpu_count: int) -> int:
    web_concurrency = _number("WEB_CONCURRENCY", 0, int, 1)
    workers_per_core = _number("WORKERS_PER_CORE", 1.0, float, 0)
    max_workers = _number("MAX_WORKERS", 0, int, 1)
    if web_concurrency:
        return int(web_concurrency)
    workers = max(int(workers_per_core * cpu_count), 2)
    return min(workers, int(max_workers)) if max_workers else workers


def _bind_address() -> str:
    explicit = os.environ.get("BIND", "")
    if explicit:
        return explicit
    host = os.environ.get("HOST", "") or "0.0.0.0"
    port = int(_number("PORT", 80, int, 0))
    if port > 65535:
        _fail("PORT", str(port), "a port number from 0 to 65535")
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _log_level() -> str:
    level = os.environ.get("LOG_LEVEL", "") or "info"
    if level.lower() not in LOG_LEVELS:
        _fail("LOG_LEVEL", level, f"one of {', '.join(LOG_LEVELS)}")
    return level.lower()


def _log_target(name: str) -> str | None:
    """`-` (the default) is standard error; an empty value turns the log off."""
    return os.environ.get(name, "-") or None


cpu_count = os.cpu_count() or 1
workers = _worker_count(cpu_count)
bind = [_bind_address()]
loglevel = _log_level()
accesslog = _log_target("ACCESS_LOG")
errorlog = _log_target("ERROR_LOG") or "/dev/null"
worker_class = "uvicorn_worker.UvicornWorker"

print(
    json.dumps(
        {
            "cpu_count": cpu_count,
            "workers": workers,
            "bind": bind,
            "loglevel": loglevel,
            "accesslog": accesslog,
            "errorlog": errorlog,
            "worker_class": worker_class,
        }
    ),
    flush=True,
)
