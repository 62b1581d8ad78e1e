"""Access lines written in batches instead of one write per request.

A worker appends each line to a bounded buffer; the buffer goes out in one write when it
holds BUFFER_BYTES, every ACCESS_LOG_FLUSH_SECONDS (0.5 s by default, at most 1) from a
thread of the worker's own, and when the worker exits: at the interpreter's exit, and on
SIGTERM, which Uvicorn re-raises once it has shut down so that the worker dies by it (no
exit code, no atexit): see flush_before_sigterm. Lines keep their order within a worker. A worker that
is killed outright (SIGKILL, out of memory) loses what its buffer held: at most that many
seconds of its lines. ACCESS_LOG_FLUSH_SECONDS=0 writes each line at once, through the
standard logging path. The error log is never buffered.

With the plain `%(message)s` format (the image's text default) or the image's JSON
formatter, uvicorn.access is an AccessLogger: its `info` makes the one line itself instead
of building a LogRecord and walking the stack for it, which is most of what an access line
costs; any other handler, filter or format goes the standard way.
"""

from __future__ import annotations

import atexit
import logging
import os
import signal
import sys
import threading
import weakref
from collections.abc import Callable
from types import FrameType
from typing import Any, TextIO

from uvicorn_gunicorn_runtime.environment import Environment, access_log_flush_seconds
from uvicorn_gunicorn_runtime.json_format import ACCESS_LOGGER, JsonFormatter

# An access line made from the logging call's message and arguments, without a LogRecord.
DirectLine = Callable[[object, tuple[object, ...]], str]

BUFFER_BYTES = 64 * 1024
# A signal handler may interrupt the thread that holds a buffer's lock: it waits this long.
SIGNAL_FLUSH_WAIT_SECONDS = 0.5


def flush_seconds() -> float:
    """The interval the launcher checked; workers read it from the environment, by the same rules."""
    return access_log_flush_seconds(Environment(os.environ))


class LineBuffer:
    """Encoded lines for one file descriptor, written out together. The thread that writes
    them periodically starts with the first line in each process: the master creates the
    buffer, and a thread would not survive the fork into a worker anyway. Without a file
    descriptor (None: detached) lines are kept until one is attached."""

    def __init__(self, fd: int | None, interval: float, max_bytes: int = BUFFER_BYTES) -> None:
        self._fd: int | None = fd
        self._interval = interval
        self._max_bytes = max_bytes
        self._lines: list[bytes] = []
        self._size = 0
        self._lock = threading.Lock()
        self._flusher_pid: int | None = None
        self._failed = False

    def write(self, line: str) -> None:
        data = line.encode("utf-8", "backslashreplace") + b"\n"
        if self._flusher_pid != os.getpid():
            self._start_flusher()  # before taking the lock, which the fork may have copied held
        with self._lock:
            self._lines.append(data)
            self._size += len(data)
            if self._size >= self._max_bytes:
                self._write_out()

    def flush(self, wait: float = -1) -> None:
        if self._lock.acquire(timeout=wait):
            try:
                self._write_out()
            finally:
                self._lock.release()

    def detach(self) -> None:
        """Writes out what is held and keeps later lines until attach: the file is being reopened."""
        with self._lock:
            self._write_out()
            self._fd = None

    def attach(self, fd: int) -> None:
        with self._lock:
            self._fd = fd
            self._write_out()

    def _write_out(self) -> None:
        if not self._lines or self._fd is None:
            return
        fd = self._fd
        view = memoryview(b"".join(self._lines))
        self._lines.clear()
        self._size = 0
        try:
            while view:
                view = view[os.write(fd, view) :]
        except OSError as error:
            if not self._failed:  # say it once: the error log is another descriptor
                self._failed = True
                print(f"error: the access log cannot be written, lines are dropped: {error}", file=sys.stderr)

    def _start_flusher(self) -> None:
        """Once per process, from the first line's thread: Uvicorn writes access lines from its
        event loop's thread only."""
        self._flusher_pid = os.getpid()
        self._lock = threading.Lock()
        threading.Thread(target=self._flush_periodically, name="access-log-flush", daemon=True).start()
        atexit.register(self.flush)

    def _flush_periodically(self) -> None:
        stop = threading.Event()
        while not stop.wait(self._interval):
            self.flush()


class _BufferedLines(logging.Handler):
    """What both buffered handlers do: each line into their LineBuffer, and the format that
    the short way of AccessLogger may make without a LogRecord."""

    buffer: LineBuffer
    direct_line: DirectLine | None = None

    def setFormatter(self, fmt: logging.Formatter | None) -> None:  # logging's name
        super().setFormatter(fmt)
        self.direct_line = direct_line(fmt)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.buffer.write(self.format(record))
        except Exception:
            self.handleError(record)

    def flush(self) -> None:
        self.buffer.flush()


class BufferedAccessHandler(_BufferedLines, logging.StreamHandler):  # type: ignore[type-arg]
    """A StreamHandler (standard output by default) whose lines go through a LineBuffer."""

    def __init__(self, stream: TextIO | None = None, interval: float | None = None) -> None:
        super().__init__(stream or sys.stdout)
        self.stream.flush()  # what was printed before goes first
        self.buffer = LineBuffer(self.stream.fileno(), flush_seconds() if interval is None else interval)
        _BUFFERS.add(self.buffer)
        flush_before_sigterm()  # Uvicorn's own workers configure logging before they serve


class BufferedAccessFileHandler(_BufferedLines, logging.FileHandler):
    """A FileHandler (ACCESS_LOG=/path, /dev/null included) whose lines go through a
    LineBuffer. Gunicorn reopens log files on SIGUSR1 (log rotation) by closing the handler,
    which writes the buffer out to the old file, and opening it again: the buffer follows."""

    def __init__(self, filename: str, interval: float | None = None) -> None:
        # Attached to the file by _open, which FileHandler's __init__ calls.
        self.buffer = LineBuffer(None, flush_seconds() if interval is None else interval)
        _BUFFERS.add(self.buffer)
        super().__init__(filename, encoding="utf-8")
        flush_before_sigterm()

    def _open(self) -> Any:  # logging's name; returns the stream
        stream = super()._open()
        self.buffer.attach(stream.fileno())
        return stream

    def close(self) -> None:
        self.buffer.detach()
        super().close()


BUFFERED_HANDLERS = (BufferedAccessHandler, BufferedAccessFileHandler)


def direct_line(fmt: logging.Formatter | None) -> DirectLine | None:
    """How `fmt`'s access line is made without a LogRecord, for the formats where that gives
    the same line; None for any other."""
    if type(fmt) is logging.Formatter and fmt._fmt == "%(message)s":
        return _message
    if type(fmt) is JsonFormatter:
        return fmt.access_line
    return None


def _message(msg: object, args: tuple[object, ...]) -> str:
    return str(msg) % args if args else str(msg)


class AccessLogger(logging.Logger):
    """uvicorn.access, with a short way for lines that only a buffered handler with a direct
    line format would write: the same line, without a LogRecord."""

    def info(self, msg: object, *args: object, **kwargs: Any) -> None:
        handlers = self.handlers
        if (
            not kwargs
            and len(handlers) == 1
            and isinstance(handler := handlers[0], BUFFERED_HANDLERS)
            and (line := handler.direct_line) is not None
            and not handler.filters
            and not self.filters
            and self.isEnabledFor(logging.INFO)
            and handler.level <= logging.INFO
        ):
            handler.buffer.write(line(msg, args))
        else:
            super().info(msg, *args, **kwargs)


def install_access_logger() -> None:
    """Makes uvicorn.access an AccessLogger, if nothing has asked for it yet: Gunicorn's
    master calls this before creating the workers that ask for it (see logs)."""
    manager = logging.Logger.manager
    if ACCESS_LOGGER in manager.loggerDict:
        return
    previous = manager.loggerClass
    manager.setLoggerClass(AccessLogger)
    try:
        logging.getLogger(ACCESS_LOGGER)
    finally:
        manager.loggerClass = previous


_BUFFERS: weakref.WeakSet[LineBuffer] = weakref.WeakSet()


def flush_before_sigterm() -> None:
    """Where SIGTERM still kills outright (a worker before Uvicorn serves, and after: Uvicorn
    restores the handler it found, then raises the signal again), flush every buffer first,
    then die by the signal as before. Called in the main thread before Uvicorn serves: in a
    Gunicorn worker once it has reset its signals (gunicorn_server), in Uvicorn's own workers
    when they configure logging."""
    in_main_thread = threading.current_thread() is threading.main_thread()
    if in_main_thread and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _flush_then_die)


def _flush_then_die(signum: int, frame: FrameType | None) -> None:
    for buffer in list(_BUFFERS):
        buffer.flush(wait=SIGNAL_FLUSH_WAIT_SECONDS)
    signal.signal(signum, signal.SIG_DFL)
    signal.raise_signal(signum)
