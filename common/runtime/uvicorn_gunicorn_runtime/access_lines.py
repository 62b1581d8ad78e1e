"""The image's access lines: one per HTTP request, made by a layer around the application in
each worker, in place of Uvicorn's own line, which knows neither the response's size, nor the
request's duration, nor its user agent.

The layer times the request from the moment the application is called to the moment it hands
its last body part to the server, counts the body's bytes, and takes the status, the User-Agent
and the X-Request-ID; the line is written then. When the application never finishes
its response, the line is written as it returns or raises: with the status it sent, else 500
(what Uvicorn answers then), or 499 when Uvicorn had seen the client disconnect (the status
nginx logs for a request the client gave up on). WebSocket and lifespan scopes pass through
without a line, and so do requests to ACCESS_LOG_EXCLUDE_PATHS and the image's own health
check (its User-Agent).

Lines go through the logger ACCESS_LOGGER: under Gunicorn it takes the handlers, level and
filters of Gunicorn's access log (ACCESS_LOG, a configuration file's accesslog or logconfig);
under Uvicorn's manager and /start-reload.sh the image's logging configuration sets it up (see
uvicorn_logging). Where its one handler is a buffered one with a format the layer knows (see
access_log), the line goes into the buffer without a LogRecord.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import sys
from collections.abc import Awaitable, Mapping
from time import perf_counter
from typing import Any

from uvicorn_gunicorn_runtime.access_format import (
    Exchange,
    LineMaker,
    access_log_format,
    default_line,
    gunicorn_line,
    json_fields,
)
from uvicorn_gunicorn_runtime.access_log import ACCESS_LOGGER, BufferedLines
from uvicorn_gunicorn_runtime.asgi import ASGIApp, Message, Receive, Scope, Send
from uvicorn_gunicorn_runtime.environment import Environment, SettingError, access_log_exclude_paths
from uvicorn_gunicorn_runtime.healthcheck import USER_AGENT
from uvicorn_gunicorn_runtime.json_format import ACCESS_FIELDS

HEALTHCHECK_AGENT = USER_AGENT.encode()
INFO = logging.INFO
NO_RESPONSE = 500
CLIENT_GONE = 499
# Uvicorn's own line, which the layer replaces.
UVICORN_ACCESS_LOGGER = "uvicorn.access"


class AccessLines:
    """Writes one exchange's line through `logger`, its message made by `message`."""

    def __init__(self, logger: logging.Logger, message: LineMaker) -> None:
        self.logger = logger
        self.message = message

    def write(self, exchange: Exchange) -> None:
        logger = self.logger
        if not logger.isEnabledFor(INFO):
            return
        handlers = logger.handlers
        if len(handlers) == 1 and not logger.filters:
            handler = handlers[0]
            if isinstance(handler, BufferedLines) and not handler.filters and handler.level <= INFO:
                if handler.text_prefix is not None:
                    handler.buffer.write(handler.text_prefix + self.message(exchange))
                    return
                if handler.json is not None:
                    line = handler.json.access_line(logger.name, self.message(exchange), json_fields(exchange))
                    handler.buffer.write(line)
                    return
        logger.info(self.message(exchange), extra={ACCESS_FIELDS: json_fields(exchange)})


class AccessLog:
    """The application, with one access line for each HTTP request (see the module's docstring)."""

    __slots__ = ("app", "excluded", "lines")

    def __init__(self, app: ASGIApp, lines: AccessLines, excluded: tuple[str, ...] = ()) -> None:
        self.app = app
        self.lines = lines
        self.excluded = frozenset(excluded)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.excluded:
            return await self.app(scope, receive, send)
        headers: dict[bytes, bytes] = dict(scope["headers"])
        if headers.get(b"user-agent") == HEALTHCHECK_AGENT:
            return await self.app(scope, receive, send)
        lines, exchange, started = self.lines, Exchange(scope, headers), perf_counter()
        written = False

        # A plain function that returns the server's own awaitable: no coroutine of the
        # layer's per message. The line goes out as the last body part is handed over.
        def counted_send(message: Message) -> Awaitable[None]:
            nonlocal written
            kind = message["type"]
            if kind == "http.response.body":
                exchange.size += len(message.get("body", b""))
                if not (message.get("more_body", False) or written):
                    written = True
                    exchange.seconds = perf_counter() - started
                    lines.write(exchange)
            elif kind == "http.response.start":
                exchange.status = message["status"]
                exchange.response_headers = message.get("headers", ())
            return send(message)

        try:
            await self.app(scope, receive, counted_send)
        finally:
            if not written:  # the application returned or raised before its last body part
                exchange.seconds = perf_counter() - started
                exchange.status = exchange.status or (CLIENT_GONE if _client_gone(receive) else NO_RESPONSE)
                lines.write(exchange)


def _client_gone(receive: Receive) -> bool:
    """Whether the server saw the client disconnect: Uvicorn's receive is a method of the
    request's cycle, which says so. Asked only of a request without an answer, rather than
    watching every request's receive, which costs each request more than a tenth of its line."""
    return getattr(getattr(receive, "__self__", None), "disconnected", False) is True


def _is_coroutine_function(function: object) -> bool:
    # Uvicorn's own test: asyncio's until Python 3.14, which deprecates it for inspect's.
    if sys.version_info >= (3, 14):
        return inspect.iscoroutinefunction(function)
    return asyncio.iscoroutinefunction(function)


def as_asgi3(app: Any, interface: str) -> ASGIApp:
    """The application as an ASGI 3 callable, which the layer calls: an ASGI 2 one (a class
    or callable taking the scope alone) in Uvicorn's adapter, told apart as Uvicorn's
    `--interface auto` tells them apart."""
    if interface == "auto":
        if inspect.isclass(app):
            asgi3 = hasattr(app, "__await__")
        elif inspect.isfunction(app):
            asgi3 = _is_coroutine_function(app)
        else:
            asgi3 = callable(app) and _is_coroutine_function(app.__call__)
        interface = "asgi3" if asgi3 else "asgi2"
    if interface == "asgi2":
        from uvicorn.middleware.asgi2 import ASGI2Middleware

        return ASGI2Middleware(app)  # type: ignore[no-any-return]
    return app  # type: ignore[no-any-return]


def _excluded_paths() -> tuple[str, ...]:
    """The launcher has checked ACCESS_LOG_EXCLUDE_PATHS: the same rules cannot fail here."""
    return access_log_exclude_paths(Environment(os.environ))


def gunicorn_line_maker(access_log_format: str, environ: Mapping[str, str]) -> LineMaker:
    """Gunicorn's access_log_format, unless it is Gunicorn's default and ACCESS_LOG_FORMAT is
    unset: then the image's own line."""
    from gunicorn.config import AccessLogFormat

    if access_log_format == AccessLogFormat.default and not environ.get("ACCESS_LOG_FORMAT"):
        return default_line
    return gunicorn_line(access_log_format)


def serve_access_lines(worker: Any) -> None:
    """Gunicorn's post_worker_init hook, in a worker that serves through Uvicorn: Uvicorn's own
    line off, the application wrapped in the layer when Gunicorn's access log goes anywhere."""
    from uvicorn.config import Config

    config = getattr(worker, "config", None)
    if not isinstance(config, Config) or config.interface == "wsgi":
        return
    # The worker gave uvicorn.access the list of Gunicorn's handlers: a list of its own, empty.
    logging.getLogger(UVICORN_ACCESS_LOGGER).handlers = []
    access = worker.log.access_log
    if not access.hasHandlers():
        return
    logger = logging.getLogger(ACCESS_LOGGER)  # with what the application, imported by now, gave it
    logger.handlers, logger.filters = [*access.handlers, *logger.handlers], [*access.filters, *logger.filters]
    logger.propagate = access.propagate
    logger.setLevel(access.level)
    lines = AccessLines(logger, gunicorn_line_maker(worker.cfg.access_log_format, os.environ))
    worker.wsgi = AccessLog(as_asgi3(worker.wsgi, config.interface), lines, _excluded_paths())


def uvicorn_app() -> ASGIApp:
    """The application under PROCESS_MANAGER=uvicorn and /start-reload.sh with the access log
    on: Uvicorn's `--factory` target in each worker, the application APP_MODULE names (the
    launcher set it, and imported the application once) in the layer."""
    from uvicorn_gunicorn_runtime.app_import import load_app
    from uvicorn_gunicorn_runtime.discovery import discover_app

    env = Environment(os.environ)
    try:
        app = load_app(discover_app(env, os.path.isfile))
        chosen = access_log_format(env)
    except SettingError as error:  # an edit under /start-reload.sh; Uvicorn's reloader waits for the next
        logging.getLogger("uvicorn.error").error("%s", error)
        sys.exit(1)
    message = default_line if chosen is None else gunicorn_line(chosen)
    lines = AccessLines(logging.getLogger(ACCESS_LOGGER), message)
    return AccessLog(as_asgi3(app, "auto"), lines, _excluded_paths())
