"""The batched access log: every line, in order, in few writes; the same line either way."""

from __future__ import annotations

import json
import logging
import os
import select
from collections.abc import Iterator
from pathlib import Path

import pytest
from uvicorn_gunicorn_runtime.access_log import (
    AccessLogger,
    BufferedAccessFileHandler,
    BufferedAccessHandler,
    LineBuffer,
)
from uvicorn_gunicorn_runtime.json_format import JsonFormatter
from uvicorn_gunicorn_runtime.uvicorn_logging import BUFFERED_HANDLER, STANDARD_HANDLER, logging_config

ACCESS_FORMAT = '%s - "%s %s HTTP/%s" %d'
ACCESS_ARGS = ("10.0.0.1:5000", "GET", "/items?id=1", "1.1", 200)


@pytest.fixture
def pipe() -> Iterator[tuple[int, int]]:
    read, write = os.pipe()
    yield read, write
    os.close(read)
    os.close(write)


def _read_within(fd: int, seconds: float) -> bytes:
    ready, _, _ = select.select([fd], [], [], seconds)
    return os.read(fd, 1 << 20) if ready else b""


def test_lines_wait_for_a_flush_then_arrive_together_in_order(pipe: tuple[int, int]) -> None:
    read, write = pipe
    buffer = LineBuffer(write, interval=60)
    for number in range(3):
        buffer.write(f"line {number}")
    assert _read_within(read, 0.05) == b""
    buffer.flush()
    assert _read_within(read, 1) == b"line 0\nline 1\nline 2\n"


def test_a_full_buffer_is_written_at_once(pipe: tuple[int, int]) -> None:
    read, write = pipe
    buffer = LineBuffer(write, interval=60, max_bytes=20)
    buffer.write("a" * 9)
    assert _read_within(read, 0.05) == b""
    buffer.write("b" * 9)  # 20 bytes with the newlines
    assert _read_within(read, 1) == b"a" * 9 + b"\n" + b"b" * 9 + b"\n"


def test_lines_arrive_within_the_interval_without_more_traffic(pipe: tuple[int, int]) -> None:
    read, write = pipe
    LineBuffer(write, interval=0.1).write("alone")
    assert _read_within(read, 2) == b"alone\n"


def _access_logger(name: str, fd: int) -> tuple[AccessLogger, BufferedAccessHandler]:
    logger = AccessLogger(name)
    handler = BufferedAccessHandler(open(fd, "w", closefd=False), interval=60)  # noqa: SIM115  # the pipe's
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(handler)
    logger.propagate = False
    return logger, handler


def test_the_short_way_writes_what_the_standard_way_writes(pipe: tuple[int, int]) -> None:
    read, write = pipe
    short, short_handler = _access_logger("short", write)
    standard, standard_handler = _access_logger("standard", write)
    standard_handler.addFilter(lambda record: True)  # any filter takes the standard way
    for logger, handler in ((short, short_handler), (standard, standard_handler)):
        logger.info(ACCESS_FORMAT, *ACCESS_ARGS)
        handler.flush()
    assert short_handler.direct_line is not None
    assert _read_within(read, 1) == b'10.0.0.1:5000 - "GET /items?id=1 HTTP/1.1" 200\n' * 2


def test_a_level_above_info_still_silences_the_short_way(pipe: tuple[int, int]) -> None:
    read, write = pipe
    logger, handler = _access_logger("quiet", write)
    logger.setLevel(logging.WARNING)
    logger.info(ACCESS_FORMAT, *ACCESS_ARGS)
    handler.flush()
    assert _read_within(read, 0.05) == b""


def test_another_format_takes_the_standard_way(pipe: tuple[int, int]) -> None:
    _, handler = _access_logger("formatted", pipe[1])
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    assert handler.direct_line is None


@pytest.mark.parametrize(("log_format", "buffered"), [("text", True), ("json", True), ("json", False)])
def test_uvicorns_configuration_batches_only_the_access_log(log_format: str, buffered: bool) -> None:
    config = logging_config(log_format, buffered)
    assert config["handlers"]["access"]["class"] == (BUFFERED_HANDLER if buffered else STANDARD_HANDLER)
    assert config["handlers"]["error"]["class"] == STANDARD_HANDLER
    assert config["loggers"]["uvicorn.access"]["handlers"] == ["access"]


def test_a_file_log_is_batched_and_follows_a_reopen(tmp_path: Path) -> None:
    """Gunicorn reopens log files on SIGUSR1 (rotation) by closing the handler and opening it
    again: what was held goes to the old file, later lines to the new one, none lost."""
    path = tmp_path / "access.log"
    logger = AccessLogger("file-access")
    handler = BufferedAccessFileHandler(str(path), interval=60)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(handler)
    logger.info(ACCESS_FORMAT, *ACCESS_ARGS)
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
    assert (tmp_path / "access.log.1").read_text() == '10.0.0.1:5000 - "GET /items?id=1 HTTP/1.1" 200\n'
    assert path.read_text() == "after the reopen\n"
    handler.close()


def test_a_detached_buffer_keeps_lines_until_attached(pipe: tuple[int, int]) -> None:
    read, write = pipe
    buffer = LineBuffer(None, interval=60, max_bytes=1)
    buffer.write("kept")  # full, but nowhere to go yet
    buffer.attach(write)
    assert _read_within(read, 1) == b"kept\n"


def test_the_short_way_writes_the_json_line_the_standard_way_writes(pipe: tuple[int, int]) -> None:
    read, write = pipe
    lines = []
    for name, with_filter in (("json-short", False), ("json-standard", True)):
        logger, handler = _access_logger(name, write)
        handler.setFormatter(JsonFormatter())
        if with_filter:
            handler.addFilter(lambda record: True)  # any filter takes the standard way
        else:
            assert handler.direct_line is not None
        logger.name = "uvicorn.access"  # the JSON fields are the access log's only
        logger.info(ACCESS_FORMAT, *ACCESS_ARGS)
        handler.flush()
        lines.append(json.loads(_read_within(read, 1)))
    short, standard = ({key: value for key, value in line.items() if key != "time"} for line in lines)
    assert short == standard
    assert short["status"] == 200 and short["path"] == "/items?id=1"
