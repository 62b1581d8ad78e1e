"""The batched access log: every line, in order, in few writes."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest
from uvicorn_gunicorn_runtime.access_log import (
    ACCESS_LOGGER,
    AccessTextFormatter,
    BufferedAccessFileHandler,
    BufferedAccessHandler,
    LineBuffer,
)
from uvicorn_gunicorn_runtime.json_format import JsonFormatter
from uvicorn_gunicorn_runtime.uvicorn_logging import BUFFERED_HANDLER, STANDARD_HANDLER, logging_config

from tests.unit.runtime.pipes import read_within

LINE = '10.0.0.1:5000 - "GET /items?id=1 HTTP/1.1" 200 27 0.412ms "curl/8.5.0"'


def test_lines_wait_for_a_flush_then_arrive_together_in_order(pipe: tuple[int, int]) -> None:
    read, write = pipe
    buffer = LineBuffer(write, interval=60)
    for number in range(3):
        buffer.write(f"line {number}")
    assert read_within(read, 0.05) == b""
    buffer.flush()
    assert read_within(read, 1) == b"line 0\nline 1\nline 2\n"


def test_a_full_buffer_is_written_at_once(pipe: tuple[int, int]) -> None:
    read, write = pipe
    buffer = LineBuffer(write, interval=60, max_bytes=20)
    buffer.write("a" * 9)
    assert read_within(read, 0.05) == b""
    buffer.write("b" * 9)  # 20 bytes with the newlines
    assert read_within(read, 1) == b"a" * 9 + b"\n" + b"b" * 9 + b"\n"


def test_lines_arrive_within_the_interval_without_more_traffic(pipe: tuple[int, int]) -> None:
    read, write = pipe
    LineBuffer(write, interval=0.1).write("alone")
    assert read_within(read, 2) == b"alone\n"


@pytest.mark.parametrize(
    ("formatter", "prefix", "json"),
    [
        (logging.Formatter("%(message)s"), "", False),
        (AccessTextFormatter("INFO:     "), "INFO:     ", False),
        (JsonFormatter(), None, True),
        (logging.Formatter("%(levelname)s %(message)s"), None, False),
        (logging.Formatter("%(message)s", datefmt="%Y"), "", False),
    ],
)
def test_a_buffered_handler_says_which_lines_it_takes_made(
    formatter: logging.Formatter, prefix: str | None, json: bool
) -> None:
    """The formats whose line the access layer may make itself, without a LogRecord (see test_access_lines)."""
    handler = BufferedAccessHandler(open(os.devnull, "w"), interval=60)  # noqa: SIM115  # the handler's
    handler.setFormatter(formatter)
    assert (handler.text_prefix, handler.json is not None) == (prefix, json)
    handler.close()


def test_the_text_formatter_puts_its_prefix_first() -> None:
    record = logging.LogRecord("access", logging.INFO, __file__, 1, LINE, None, None)
    assert AccessTextFormatter("INFO:     ").format(record) == f"INFO:     {LINE}"


@pytest.mark.parametrize(("log_format", "buffered"), [("text", True), ("json", True), ("text", False), ("json", False)])
def test_uvicorns_configuration(log_format: str, buffered: bool) -> None:
    """The access log batched or not, Uvicorn's own access line off (its logger has no handler:
    Uvicorn then makes no line), the application's own loggers as JSON with LOG_FORMAT=json."""
    config = logging_config(log_format, buffered, "warning")
    assert config["handlers"]["access"]["class"] == (BUFFERED_HANDLER if buffered else STANDARD_HANDLER)
    assert config["handlers"]["error"]["class"] == STANDARD_HANDLER
    loggers = config["loggers"]
    assert loggers["uvicorn.access"]["handlers"] == [] and loggers["uvicorn.access"]["propagate"] is False
    assert loggers[ACCESS_LOGGER] == {"handlers": ["access"], "level": "WARNING", "propagate": False}
    root = {"handlers": ["error"], "level": "WARNING"} if log_format == "json" else None
    assert config.get("root") == root


def test_a_file_log_is_batched_and_follows_a_reopen(tmp_path: Path) -> None:
    """Gunicorn reopens log files on SIGUSR1 (rotation) by closing the handler and opening it
    again: what was held goes to the old file, later lines to the new one, none lost."""
    path = tmp_path / "access.log"
    logger = logging.Logger("file-access")
    handler = BufferedAccessFileHandler(str(path), interval=60)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(handler)
    logger.info(LINE)
    assert path.read_text() == ""
    path.rename(tmp_path / "access.log.1")
    handler.acquire()  # as Gunicorn's reopen_files does it
    try:
        handler.close()
        handler.stream = handler._open()
    finally:
        handler.release()
    logger.info("after the reopen")
    handler.flush()
    assert (tmp_path / "access.log.1").read_text() == f"{LINE}\n"
    assert path.read_text() == "after the reopen\n"
    handler.close()


def test_a_detached_buffer_keeps_lines_until_attached(pipe: tuple[int, int]) -> None:
    read, write = pipe
    buffer = LineBuffer(None, interval=60, max_bytes=1)
    buffer.write("kept")  # full, but nowhere to go yet
    buffer.attach(write)
    assert read_within(read, 1) == b"kept\n"
