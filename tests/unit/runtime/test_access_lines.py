"""The image's access lines: the layer around the application (one line per HTTP request, what
it says when the application fails or the client leaves), the formats of a line, and how a
Gunicorn or Uvicorn worker takes the layer. Needs Uvicorn and Gunicorn: skipped without them."""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import os
import re
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

pytest.importorskip("gunicorn")
pytest.importorskip("uvicorn")

from gunicorn.config import AccessLogFormat
from uvicorn.config import Config
from uvicorn.middleware.asgi2 import ASGI2Middleware
from uvicorn_gunicorn_runtime import access_format, access_lines
from uvicorn_gunicorn_runtime.access_format import (
    Exchange,
    check_format,
    default_line,
    gunicorn_line,
    json_fields,
    shown,
)
from uvicorn_gunicorn_runtime.access_lines import (
    AccessLines,
    AccessLog,
    as_asgi3,
    gunicorn_line_maker,
    serve_access_lines,
    uvicorn_app,
)
from uvicorn_gunicorn_runtime.access_log import ACCESS_LOGGER, AccessTextFormatter, BufferedAccessHandler
from uvicorn_gunicorn_runtime.asgi import Message, Receive, Scope, Send
from uvicorn_gunicorn_runtime.environment import SettingError
from uvicorn_gunicorn_runtime.healthcheck import USER_AGENT
from uvicorn_gunicorn_runtime.json_format import ACCESS_FIELDS, JsonFormatter

from tests.unit.runtime.pipes import read_within
from tests.unit.runtime.readings import setting_error

HEADERS = {b"user-agent": b"curl/8.5.0", b"x-request-id": b"4bf92f35", b"referer": b"http://example.test/"}


def _scope(path: str = "/items", query: bytes = b"id=1", **more: Any) -> dict[str, Any]:
    return {
        "type": "http",
        "method": "GET",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "http_version": "1.1",
        "client": ("10.0.0.1", 5000),
        "server": ("172.17.0.2", 80),
        "scheme": "http",
        "root_path": "",
        "headers": list(HEADERS.items()),
        **more,
    }


# The formats of a line.


def test_the_default_line_is_uvicorns_with_size_duration_agent_and_request_id() -> None:
    line = default_line(Exchange(_scope(), HEADERS, 200, 27, 0.0004125))
    assert line == '10.0.0.1:5000 - "GET /items?id=1 HTTP/1.1" 200 27 0.412ms "curl/8.5.0" request_id="4bf92f35"'


def test_the_default_line_without_agent_request_id_query_or_client() -> None:
    line = default_line(Exchange(_scope(query=b"", client=None), {}, 404, 0, 1.5))
    assert line == '- - "GET /items HTTP/1.1" 404 0 1500.000ms "-"'


@pytest.mark.parametrize(
    ("sent", "shown_as"),
    [
        (b"plain/1.0 (x; y)", "plain/1.0 (x; y)"),
        (b'say "hi"', 'say \\"hi\\"'),
        (b"back\\slash", "back\\\\slash"),
        (b"line\nbreak\x00\x7f", "line\\x0abreak\\x00\\x7f"),
        ("café".encode(), "caf\\xc3\\xa9"),
    ],
)
def test_text_from_the_client_cannot_break_a_line_or_a_quoted_field(sent: bytes, shown_as: str) -> None:
    assert shown(sent) == shown_as
    line = default_line(Exchange(_scope(), {b"user-agent": sent}, 200, 1, 0.001))
    assert line.endswith(f' "{shown_as}"') and "\n" not in line


def test_what_the_default_line_keeps_of_clients_and_agents_stays_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(access_format, "CACHED", 3)
    for port in range(10):
        agent = b"agent %d" % (port % 5)
        line = default_line(Exchange(_scope(client=("10.0.0.1", port)), {b"user-agent": agent}, 200))
        assert line.startswith(f'10.0.0.1:{port} - "GET /items?id=1 HTTP/1.1" 200 0 0.000ms "agent {port % 5}"')
    assert len(access_format._CLIENTS) <= 3 and len(access_format._AGENTS) <= 3


def test_json_fields_carry_the_exchange() -> None:
    assert json_fields(Exchange(_scope(raw_path=b"/caf%C3%A9"), HEADERS, 201, 27, 0.0004125)) == {
        "client": "10.0.0.1:5000",
        "method": "GET",
        "path": "/caf%C3%A9",
        "query": "id=1",
        "http_version": "1.1",
        "status": 201,
        "bytes": 27,
        "duration_ms": 0.412,
        "user_agent": "curl/8.5.0",
        "request_id": "4bf92f35",
    }
    empty = json_fields(Exchange(_scope(query=b"", client=None), {}))
    assert (empty["client"], empty["query"], empty["user_agent"], empty["request_id"]) == (None, "", None, None)


ATOMS = {
    "h": "10.0.0.1",
    "l": "-",
    "u": "alice",
    "r": "GET /items?id=1 HTTP/1.1",
    "m": "GET",
    "U": "/items",
    "q": "id=1",
    "H": "HTTP/1.1",
    "s": "200",
    "B": "0",
    "b": "-",
    "f": "http://example.test/",
    "a": "curl/8.5.0",
    "T": "2",
    "D": "2500000",
    "M": "2500",
    "L": "2.500000",
    "{X-Request-Id}i": "4bf92f35",
    "{missing}i": "-",
    "{content-type}o": "text/plain",
    "{request_method}e": "GET",
    "{REMOTE_PORT}e": "5000",
    "{HTTP_USER_AGENT}e": "curl/8.5.0",
    "{server_name}e": "172.17.0.2",
    "{unknown}e": "-",
    "nope": "-",
}


def test_gunicorns_atoms() -> None:
    headers = {**HEADERS, b"authorization": b"Basic YWxpY2U6c2VjcmV0"}  # alice:secret
    access_format = "|".join(f"%({atom})s" for atom in ATOMS) + "|%(t)s|%(p)s|100%%"
    line = gunicorn_line(access_format)(Exchange(_scope(), headers, 200, 0, 2.5, [(b"Content-Type", b"text/plain")]))
    *atoms, when, pid, percent = line.split("|")
    assert dict(zip(ATOMS, atoms, strict=True)) == ATOMS
    assert re.fullmatch(r"\[\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4}\]", when)
    assert (pid, percent) == (f"<{os.getpid()}>", "100%")


@pytest.mark.parametrize("authorization", [b"Bearer abc", b"Basic !!!", b"Basic"])
def test_no_user_without_basic_credentials(authorization: bytes) -> None:
    assert gunicorn_line("%(u)s")(Exchange(_scope(), {b"authorization": authorization})) == "-"


def test_numbers_take_numeric_conversions() -> None:
    assert gunicorn_line("%(s)d %(B)05d %(D)x")(Exchange(_scope(), {}, 200, 27, 0.000255)) == "200 00027 ff"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("%(h)", "expected %(atom)s placeholders and %% for a % sign"),
        ("%(h)s %s", "expected %(atom)s placeholders"),
        ("100%", "expected %(atom)s placeholders"),
        ("%(h)s %(nope)s", "'nope' is not one"),
        ("%(a)d", "expected a format each atom's value fits (TypeError: %d format: a real number is required"),
    ],
)
def test_a_bad_access_log_format_in_one_line(value: str, expected: str) -> None:
    error = setting_error(lambda: check_format("ACCESS_LOG_FORMAT", value, known_atoms_only=True))
    assert error.startswith(f"ACCESS_LOG_FORMAT={value!r} is not valid: ") and expected in error


def test_gunicorns_own_setting_shows_an_unknown_atom_as_a_dash() -> None:
    check_format("access_log_format", "%(h)s %(nope)s", known_atoms_only=False)  # as Gunicorn does
    assert gunicorn_line("%(h)s %(nope)s")(Exchange(_scope(), {})) == "10.0.0.1 -"
    with pytest.raises(SettingError):
        check_format("access_log_format", "%(h)s %d", known_atoms_only=False)


# The layer.


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """perf_counter as the layer reads it: 10.0 at the start of a request, then 10.25."""
    ticks = itertools.chain([10.0], itertools.repeat(10.25))
    monkeypatch.setattr(access_lines, "perf_counter", lambda: next(ticks))
    yield


class Recorded:
    """What a layer wrote (its message maker's arguments) and what the server was sent."""

    def __init__(self) -> None:
        self.lines: list[tuple[int, int, float, str]] = []
        self.sent: list[Message] = []

    def maker(self, exchange: Exchange) -> str:
        self.lines.append((exchange.status, exchange.size, exchange.seconds, exchange.scope["path"]))
        return "line"

    def layer(self, app: Any, excluded: tuple[str, ...] = ()) -> AccessLog:
        logger = logging.Logger("layer-test")
        logger.addHandler(logging.NullHandler())
        return AccessLog(app, AccessLines(logger, self.maker), excluded)

    def serve(self, layer: AccessLog, scope: Scope) -> None:
        async def send(message: Message) -> None:
            self.sent.append(message)

        asyncio.run(layer(scope, Cycle().receive, send))


class Cycle:
    """A request as Uvicorn's cycle holds it: one body message, then the client disconnects;
    `disconnected` says whether it has."""

    def __init__(self) -> None:
        self.messages: list[Message] = [{"type": "http.request", "body": b"", "more_body": False}]
        self.disconnected = False

    async def receive(self) -> Message:
        if self.messages:
            return self.messages.pop(0)
        self.disconnected = True
        return {"type": "http.disconnect"}


async def _answer_in_parts(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 201, "headers": []})
    await send({"type": "http.response.body", "body": b"abc", "more_body": True})
    await send({"type": "http.response.body", "body": b"de"})


def test_one_line_per_request_once_the_body_is_sent(clock: None) -> None:
    recorded = Recorded()
    recorded.serve(recorded.layer(_answer_in_parts), _scope())
    assert recorded.lines == [(201, 5, 0.25, "/items")]
    assert [message.get("body") for message in recorded.sent] == [None, b"abc", b"de"]


async def _fail_first(scope: Scope, receive: Receive, send: Send) -> None:
    raise RuntimeError("failed before answering")


async def _fail_midway(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"half", "more_body": True})
    raise RuntimeError("failed while answering")


async def _give_up_on_disconnect(scope: Scope, receive: Receive, send: Send) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def _answer_nothing(scope: Scope, receive: Receive, send: Send) -> None:
    return


@pytest.mark.parametrize(
    ("app", "raises", "status", "size"),
    [
        pytest.param(_fail_first, True, 500, 0, id="raises-before-answering"),
        pytest.param(_fail_midway, True, 200, 4, id="raises-while-answering"),
        pytest.param(_give_up_on_disconnect, False, 499, 0, id="client-disconnected"),
        pytest.param(_answer_nothing, False, 500, 0, id="returns-without-an-answer"),
    ],
)
def test_a_request_without_a_whole_answer_still_writes_its_line(
    clock: None, app: Any, raises: bool, status: int, size: int
) -> None:
    recorded = Recorded()
    layer = recorded.layer(app)
    if raises:
        with pytest.raises(RuntimeError):
            recorded.serve(layer, _scope())
    else:
        recorded.serve(layer, _scope())
    assert recorded.lines == [(status, size, 0.25, "/items")]


def test_a_server_that_does_not_say_the_client_left_gets_500(clock: None) -> None:
    """Only Uvicorn's cycle says whether the client disconnected; any other receive: 500."""
    recorded = Recorded()

    async def receive() -> Message:
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        recorded.sent.append(message)

    asyncio.run(recorded.layer(_give_up_on_disconnect)(_scope(), receive, send))
    assert recorded.lines == [(500, 0, 0.25, "/items")]


def test_websocket_lifespan_excluded_paths_and_the_health_check_write_no_line() -> None:
    recorded = Recorded()
    called: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        called.append(scope["type"])
        if scope["type"] == "http":
            await _answer_in_parts(scope, receive, send)

    layer = recorded.layer(app, excluded=("/health", "/metrics"))
    recorded.serve(layer, {"type": "lifespan"})
    recorded.serve(layer, {"type": "websocket", "path": "/ws"})
    recorded.serve(layer, _scope("/health"))
    recorded.serve(layer, _scope("/metrics", query=b"x=1"))
    recorded.serve(layer, _scope(headers=[(b"user-agent", USER_AGENT.encode())]))
    assert recorded.lines == []
    recorded.serve(layer, _scope("/metrics/more"))  # whole paths, not prefixes
    assert [line[3] for line in recorded.lines] == ["/metrics/more"]
    assert called == ["lifespan", "websocket", "http", "http", "http", "http"]


# Writing a line: without a LogRecord where the handler allows it, the same line either way.


def _logger(fd: int, formatter: logging.Formatter, with_filter: bool) -> logging.Logger:
    logger = logging.Logger(ACCESS_LOGGER)
    handler = BufferedAccessHandler(open(fd, "w", closefd=False), interval=60)  # noqa: SIM115  # the pipe's
    handler.setFormatter(formatter)
    if with_filter:
        handler.addFilter(lambda record: True)  # any filter takes the standard way
    logger.addHandler(handler)
    return logger


def _write_one(logger: logging.Logger) -> None:
    AccessLines(logger, default_line).write(Exchange(_scope(), HEADERS, 200, 27, 0.0004125))
    logger.handlers[0].flush()


EXPECTED_LINE = '10.0.0.1:5000 - "GET /items?id=1 HTTP/1.1" 200 27 0.412ms "curl/8.5.0" request_id="4bf92f35"'


@pytest.mark.parametrize(
    ("formatter", "prefix"),
    [(logging.Formatter("%(message)s"), ""), (AccessTextFormatter("INFO:     "), "INFO:     ")],
    ids=["gunicorn", "uvicorn"],
)
def test_the_short_way_writes_the_text_line_the_standard_way_writes(
    pipe: tuple[int, int], formatter: logging.Formatter, prefix: str
) -> None:
    read, write = pipe
    for with_filter in (False, True):
        _write_one(_logger(write, formatter, with_filter))
    assert read_within(read, 1).decode() == f"{prefix}{EXPECTED_LINE}\n" * 2


def test_the_short_way_writes_the_json_line_the_standard_way_writes(pipe: tuple[int, int]) -> None:
    read, write = pipe
    entries = []
    for with_filter in (False, True):
        _write_one(_logger(write, JsonFormatter(), with_filter))
        entries.append(json.loads(read_within(read, 1)))
    short, standard = ({key: value for key, value in entry.items() if key != "time"} for entry in entries)
    assert short == standard
    assert short == {"level": "info", "logger": ACCESS_LOGGER, "message": EXPECTED_LINE} | json_fields(
        Exchange(_scope(), HEADERS, 200, 27, 0.0004125)
    )


@pytest.mark.parametrize("created", [0.0, 1764900000.123, 1764900000.9999996, 253093008.56299987, 1764900001.0005])
def test_a_json_lines_time_is_datetimes_iso_format(created: float) -> None:
    record = logging.LogRecord("app", logging.INFO, __file__, 1, "message", None, None)
    record.created = created
    for made in (JsonFormatter().format(record), _access_record_line(record)):
        assert json.loads(made)["time"] == datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")


def _access_record_line(record: logging.LogRecord) -> str:
    setattr(record, ACCESS_FIELDS, json_fields(Exchange(_scope(), HEADERS, 200, 27, 0.0004125)))
    return JsonFormatter().format(record)


def test_a_level_above_info_silences_the_line(pipe: tuple[int, int]) -> None:
    read, write = pipe
    logger = _logger(write, logging.Formatter("%(message)s"), with_filter=False)
    logger.setLevel(logging.WARNING)
    _write_one(logger)
    assert read_within(read, 1) == b""


# How workers take the layer.


class Asgi2App:
    def __init__(self, scope: Scope) -> None:
        self.scope = scope

    async def __call__(self, receive: Receive, send: Send) -> None:
        await _answer_in_parts(self.scope, receive, send)


def test_an_asgi2_application_is_adapted_as_uvicorn_would() -> None:
    assert isinstance(as_asgi3(Asgi2App, "auto"), ASGI2Middleware)
    assert as_asgi3(_answer_in_parts, "auto") is _answer_in_parts
    assert isinstance(as_asgi3(_answer_in_parts, "asgi2"), ASGI2Middleware)
    recorded = Recorded()
    recorded.serve(recorded.layer(as_asgi3(Asgi2App, "auto")), _scope())
    assert [line[:2] for line in recorded.lines] == [(201, 5)]


def test_gunicorns_format_or_the_images_line() -> None:
    assert gunicorn_line_maker(AccessLogFormat.default, {}) is default_line
    assert gunicorn_line_maker(AccessLogFormat.default, {"ACCESS_LOG_FORMAT": AccessLogFormat.default}) is not (
        default_line
    )
    assert gunicorn_line_maker("%(m)s %(U)s", {})(Exchange(_scope(), {})) == "GET /items"


@pytest.fixture
def gunicorn_access() -> Iterator[logging.Logger]:
    """Gunicorn's access logger with one handler, as a worker finds it; uvicorn.access and the
    image's access logger restored afterwards."""
    access = logging.Logger("gunicorn.access")
    access.addHandler(logging.NullHandler())
    access.propagate = False
    loggers = [logging.getLogger(name) for name in ("uvicorn.access", ACCESS_LOGGER)]
    saved = [(logger.handlers, logger.filters, logger.propagate, logger.level) for logger in loggers]
    yield access
    for logger, (handlers, filters, propagate, level) in zip(loggers, saved, strict=True):
        logger.handlers, logger.filters, logger.propagate = handlers, filters, propagate
        logger.setLevel(level)


def _worker(access: logging.Logger, config: object) -> SimpleNamespace:
    uvicorns = logging.getLogger("uvicorn.access")  # as Uvicorn's worker sets it up
    uvicorns.handlers, uvicorns.propagate = access.handlers, False
    return SimpleNamespace(
        config=config,
        log=SimpleNamespace(access_log=access),
        cfg=SimpleNamespace(access_log_format=AccessLogFormat.default),
        wsgi=_answer_in_parts,
    )


def test_a_uvicorn_worker_serves_the_layer_and_uvicorns_line_is_off(
    gunicorn_access: logging.Logger, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACCESS_LOG_EXCLUDE_PATHS", "/health")
    worker = _worker(gunicorn_access, Config(app=None, log_config=None))
    serve_access_lines(worker)
    assert isinstance(worker.wsgi, AccessLog) and worker.wsgi.excluded == {"/health"}
    assert worker.wsgi.lines.message is default_line
    assert not logging.getLogger("uvicorn.access").hasHandlers()  # Uvicorn then makes no line
    assert gunicorn_access.handlers and len(gunicorn_access.handlers) == 1  # Gunicorn's own list is untouched
    assert logging.getLogger(ACCESS_LOGGER).handlers == gunicorn_access.handlers


def test_a_filter_the_application_gave_the_access_logger_stays(gunicorn_access: logging.Logger) -> None:
    def own_filter(record: logging.LogRecord) -> bool:
        return "/health" not in record.getMessage()

    logging.getLogger(ACCESS_LOGGER).addFilter(own_filter)  # at the application's import
    serve_access_lines(_worker(gunicorn_access, Config(app=None, log_config=None)))
    assert logging.getLogger(ACCESS_LOGGER).filters == [own_filter]


def test_without_an_access_log_no_layer_and_no_line(gunicorn_access: logging.Logger) -> None:
    gunicorn_access.handlers = []
    worker = _worker(gunicorn_access, Config(app=None, log_config=None))
    serve_access_lines(worker)
    assert worker.wsgi is _answer_in_parts
    assert not logging.getLogger("uvicorn.access").hasHandlers()


def test_a_worker_of_another_kind_is_left_as_it_is(gunicorn_access: logging.Logger) -> None:
    worker = _worker(gunicorn_access, None)
    serve_access_lines(worker)
    assert worker.wsgi is _answer_in_parts
    assert logging.getLogger("uvicorn.access").handlers is gunicorn_access.handlers


@pytest.fixture
def app_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    (tmp_path / "layered_app.py").write_text("async def app(scope, receive, send):\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("APP_MODULE", "layered_app:app")
    yield "layered_app"
    sys.modules.pop("layered_app", None)


def test_uvicorns_workers_serve_the_application_in_the_layer(app_module: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACCESS_LOG_FORMAT", "%(m)s %(U)s")
    layered = uvicorn_app()
    assert isinstance(layered, AccessLog)
    assert layered.app is sys.modules[app_module].app
    assert layered.lines.logger is logging.getLogger(ACCESS_LOGGER)
    assert layered.lines.message(Exchange(_scope(), {})) == "GET /items"


def test_an_application_that_no_longer_imports_stops_the_worker(
    app_module: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("APP_MODULE", "layered_app:missing")
    with pytest.raises(SystemExit) as stopped:
        uvicorn_app()
    assert stopped.value.code == 1
    assert "module 'layered_app' has no attribute 'missing'" in caplog.text
