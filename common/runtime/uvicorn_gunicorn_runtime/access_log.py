"""Access lines written in batches instead of one write per request.

A worker appends each line to a bounded buffer; the buffer goes out in one write when it
holds BUFFER_BYTES, every ACCESS_LOG_FLUSH_SECONDS (0.5 s by default, at most 1) from a
thread of the worker's own, and when the worker exits: at the interpreter's exit, and on
SIGTERM, which Uvicorn re-raises once it has shut down so that the worker dies by it (no
exit code, no atexit): see flush_before_sigterm. Lines keep their order within a worker. A worker that
is killed outright (SIGKILL, out of memory) loses what its buffer held: at most that many
seconds of its lines. ACCESS_LOG_FLUSH_SECONDS=0 writes each line at once, through the
standard logging path. The error log is never buffered.

With the plain `%(message)s` format (the image's text default under Gunicorn), the image's
AccessTextFormatter (its text under Uvicorn) or its JSON formatter, a buffered handler says
so (`text_prefix`, `json`): the access layer then puts the line into the buffer itself instead
of building a LogRecord, which is most of what a line costs through logging (see access_lines);
any other handler, filter or format goes the standard way.
"""

from __future__ import annotations

import atexit
import logging
import os
import signal
import sys
import threading
import weakref
from types import FrameType
from typing import Any, TextIO

from uvicorn_gunicorn_runtime.environment import Environment, access_log_flush_seconds
from uvicorn_gunicorn_runtime.json_format import JsonFormatter

# The logger of the image's access lines, under either process manager (see access_lines).
ACCESS_LOGGER = "uvicorn_gunicorn.access"
BUFFER_BYTES = 64 * 1024
# A signal handler may interrupt the thread that holds a buffer's lock: it waits this long.
SIGNAL_FLUSH_WAIT_SECONDS = 0.5


def flush_seconds() -> float:
    """The interval the launcher checked; workers read it from the environment, by the same rules."""
    return access_log_flush_seconds(Environment(os.environ))


# Which process this is: a number that each fork changes in the child, cheaper to compare on
# every line than the pid to ask the kernel for.
_process = 0


def _forked() -> None:
    global _process
    _process += 1


os.register_at_fork(after_in_child=_forked)


class LineBuffer:
    """Lines for one file descriptor, written out together, encoded as they go out: one
    encode per write, not per line (`max_bytes` counts characters, the bytes of ASCII text).
    The thread that writes them periodically starts with the first line in each process: the
    master creates the buffer, and a thread would not survive the fork into a worker anyway.
    Without a file descriptor (None: detached) lines are kept until one is attached."""

    def __init__(self, fd: int | None, interval: float, max_bytes: int = BUFFER_BYTES) -> None:
        self._fd: int | None = fd
        self._interval = interval
        self._max_bytes = max_bytes
        self._lines: list[str] = []
        self._size = 0
        self._lock = threading.Lock()
        self._flusher_process: int | None = None  # the _process it was started in
        self._failed = False

    def write(self, line: str) -> None:
        if self._flusher_process != _process:
            self._start_flusher()  # before taking the lock, which the fork may have copied held
        with self._lock:
            self._lines.append(line)
            self._size += len(line) + 1
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
        self._lines.append("")  # the last line's newline
        view = memoryview("\n".join(self._lines).encode("utf-8", "backslashreplace"))
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
        self._flusher_process = _process
        self._lock = threading.Lock()
        threading.Thread(target=self._flush_periodically, name="access-log-flush", daemon=True).start()
        atexit.register(self.flush)

    def _flush_periodically(self) -> None:
        stop = threading.Event()
        while not stop.wait(self._interval):
            self.flush()


class AccessTextFormatter(logging.Formatter):
    """A line as `prefix` and the message: Uvicorn's `INFO:     ` before access lines under
    its own process manager, without its colours."""

    def __init__(self, prefix: str = "") -> None:
        super().__init__()
        self.prefix = prefix

    def format(self, record: logging.LogRecord) -> str:
        return self.prefix + record.getMessage()


class BufferedLines(logging.Handler):
    """What both buffered handlers do: each line into their LineBuffer; and whether their
    format is one the access layer may make itself, without a LogRecord: `prefix + message`
    (text_prefix), or the JSON formatter's line (json)."""

    buffer: LineBuffer
    text_prefix: str | None = None
    json: JsonFormatter | None = None

    def setFormatter(self, fmt: logging.Formatter | None) -> None:  # logging's name
        super().setFormatter(fmt)
        self.text_prefix = self.json = None
        if type(fmt) is AccessTextFormatter:
            self.text_prefix = fmt.prefix
        elif type(fmt) is logging.Formatter and fmt._fmt == "%(message)s":
            self.text_prefix = ""
        elif type(fmt) is JsonFormatter:
            self.json = fmt

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.buffer.write(self.format(record))
        except Exception:
            self.handleError(record)

    def flush(self) -> None:
        self.buffer.flush()


class BufferedAccessHandler(BufferedLines, logging.StreamHandler):  # type: ignore[type-arg]
    """A StreamHandler (standard output by default) whose lines go through a LineBuffer."""

    def __init__(self, stream: TextIO | None = None, interval: float | None = None) -> None:
        super().__init__(stream or sys.stdout)
        self.stream.flush()  # what was printed before goes first
        self.buffer = LineBuffer(self.stream.fileno(), flush_seconds() if interval is None else interval)
        _BUFFERS.add(self.buffer)
        flush_before_sigterm()  # Uvicorn's own workers configure logging before they serve


class BufferedAccessFileHandler(BufferedLines, logging.FileHandler):
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
