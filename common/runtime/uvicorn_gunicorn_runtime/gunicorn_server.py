"""Gunicorn, run in the launcher's own process rather than exec'd as a second interpreter.

The launcher does not import the application first: Gunicorn's workers import it anyway,
and an import in the launcher would cost every start the application's whole import time
(or, kept, would preload it into the master). A worker whose import fails writes its one
error line into a pipe the master opened before forking, and exits with Gunicorn's
APP_LOAD_ERROR, which stops Gunicorn; the master then prints the first line, once however
many workers failed, and exits 2 as every other bad setting does.

The launcher hands its reading of the settings to the image's configuration file, which
Gunicorn runs next in this process: the application object holds it, and gives it to that
file's first run only (a reload, SIGHUP, reads the container afresh).

Garbage collection follows the recipe of CPython's gc.freeze documentation for servers that
fork: off while the master imports (collections there cost about a quarter of its import
time, measured on the images) and while a worker imports the application; frozen right
before each fork, so that no worker's collection touches, and so copies, the master's pages.
"""

from __future__ import annotations

import gc
import importlib.util
import os
import sys
import traceback
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING

from gunicorn.app.wsgiapp import WSGIApplication
from gunicorn.arbiter import Arbiter
from gunicorn.errors import HaltServer

from uvicorn_gunicorn_runtime.access_format import check_format
from uvicorn_gunicorn_runtime.access_log import flush_before_sigterm
from uvicorn_gunicorn_runtime.app_import import load_app
from uvicorn_gunicorn_runtime.discovery import IMAGE_GUNICORN_CONF, AppTarget
from uvicorn_gunicorn_runtime.drain import Drain, record_listeners
from uvicorn_gunicorn_runtime.environment import SettingError
from uvicorn_gunicorn_runtime.lazy_websockets import load_websockets_lazily
from uvicorn_gunicorn_runtime.settings import Settings, hand_over
from uvicorn_gunicorn_runtime.worker_imports import import_serving_modules

if TYPE_CHECKING:
    from gunicorn.workers.base import Worker

# A pipe write at most this long is atomic (POSIX PIPE_BUF): lines of workers never interleave.
MAX_LINE_BYTES = 4096
# The module name Gunicorn runs a configuration file as.
CONFIG_MODULE = "__config__"


class FailureLines:
    """A pipe the master creates before forking: failing workers write, the master reads."""

    def __init__(self) -> None:
        self._read, self._write = os.pipe()
        # A full pipe (hundreds of failing workers) must drop a line, never block a worker.
        os.set_blocking(self._write, False)
        os.set_blocking(self._read, False)

    def write(self, line: str) -> None:
        encoded = line.encode(errors="replace")[: MAX_LINE_BYTES - 1] + b"\n"
        with suppress(BlockingIOError):  # full: earlier workers' lines are there
            os.write(self._write, encoded)

    def first(self) -> str | None:
        try:
            data = os.read(self._read, 1 << 16)
        except BlockingIOError:
            return None
        return data.decode(errors="replace").partition("\n")[0] or None


class ImageApplication(WSGIApplication):  # type: ignore[misc]  # Gunicorn ships no type information
    """Gunicorn's own command-line application, with the application loaded as the launcher
    would have checked it."""

    def __init__(
        self,
        app: AppTarget,
        failures: FailureLines,
        mark_dead_workers: bool = False,
        handed_over: Settings | None = None,
        memory_ceiling_mb: int = 0,
        drain_seconds: int = 0,
    ) -> None:
        self.target = app
        self.memory_ceiling_mb = memory_ceiling_mb  # 0: none
        self.failures = failures
        self.mark_dead_workers = mark_dead_workers
        self.drain = Drain(drain_seconds) if drain_seconds > 0 else None
        self.handed_over = handed_over  # the launcher's reading, until the first configuration file runs
        self.arbiter: Arbiter | None = None  # known from the first fork on
        super().__init__("%(prog)s [OPTIONS] [APP_MODULE]")

    def get_config_from_filename(self, filename: str) -> dict[str, object]:
        """Gunicorn's run of its configuration file; the image's own, the first time, with the
        launcher's reading in its namespace (see settings.hand_over)."""
        handed_over, self.handed_over = self.handed_over, None
        if handed_over is None or filename != IMAGE_GUNICORN_CONF or not os.path.exists(filename):
            config: dict[str, object] = super().get_config_from_filename(filename)
            return config
        return _run_config_file(filename, hand_over(handed_over))

    def load_config(self) -> None:
        super().load_config()
        _check_access_log_format(self.cfg.access_log_format)
        configured = self.cfg.pre_fork  # the application's own hook, or Gunicorn's no-op

        def pre_fork(server: Arbiter, worker: Worker) -> None:
            if self.arbiter is None:  # the first fork
                load_websockets_lazily()
                import_serving_modules(worker)
            self.arbiter = server
            gc.freeze()
            gc.enable()
            configured(server, worker)

        self.cfg.set("pre_fork", pre_fork)
        self.cfg.set("when_ready", _recording_listeners(self.cfg.when_ready, self.drain))
        self.cfg.set("on_reload", _recording_listeners(self.cfg.on_reload, self.drain))
        if self.mark_dead_workers:
            self.cfg.set("child_exit", _marking_dead(self.cfg.child_exit))
        if self.cfg.max_requests > 0 or self.memory_ceiling_mb:
            from uvicorn_gunicorn_runtime.recycling import drain_before_recycling
            from uvicorn_gunicorn_runtime.worker_memory import MemoryCeiling

            drain_before_recycling(MemoryCeiling(self.memory_ceiling_mb) if self.memory_ceiling_mb else None)

    def finish_halt(self, halt: HaltServer) -> None:
        """Gunicorn's halt, raised again by each worker that also exits with a boot or load
        error while the halt stops the rest (Gunicorn would end in a traceback, exit code 1):
        halted again until every worker has been reaped, with the first reason."""
        if self.arbiter is None:
            raise halt
        while True:
            try:
                self.arbiter.halt(halt.reason, halt.exit_status)
            except HaltServer:
                continue

    def wsgi(self) -> object:
        # In the worker, which has reset its signals, before it serves. With PRELOAD_APP the
        # master loads the application earlier, and Gunicorn sets its own handler after this.
        flush_before_sigterm()
        return super().wsgi()

    def load_wsgiapp(self) -> object:
        try:
            with collection_paused():
                return load_app(self.target)
        except SettingError as error:
            self.failures.write(str(error))
            sys.exit(Arbiter.APP_LOAD_ERROR)


def _check_access_log_format(access_log_format: str) -> None:
    """Gunicorn's access_log_format as it finally is (a configuration file's, or
    GUNICORN_CMD_ARGS'), checked before any worker renders it: an atom Gunicorn does not know
    is `-`, as in Gunicorn, but a format that cannot render stops the start in one line."""
    try:
        check_format("access_log_format", access_log_format, known_atoms_only=False)
    except SettingError as error:
        print(f"error: {error}", file=sys.stderr, flush=True)
        sys.exit(2)


def _run_config_file(filename: str, namespace: Mapping[str, object]) -> dict[str, object]:
    """What Gunicorn's get_config_from_filename does with a .py file, `namespace` set in the
    module before its code runs: the same module name, and the same failure (exit code 1)."""
    try:
        spec = importlib.util.spec_from_file_location(CONFIG_MODULE, filename)
        if spec is None or spec.loader is None:
            raise ImportError(f"no loader for {filename}")
        module = importlib.util.module_from_spec(spec)
        vars(module).update(namespace)
        sys.modules[CONFIG_MODULE] = module
        spec.loader.exec_module(module)
    except Exception:
        print(f"Failed to read config file: {filename}", file=sys.stderr)
        traceback.print_exc()
        sys.stderr.flush()
        sys.exit(1)
    return vars(module)


def _marking_dead(configured: Callable[[Arbiter, Worker], None]) -> Callable[[Arbiter, Worker], None]:
    """Gunicorn's child_exit hook: prometheus_client's multi-process mode drops a dead worker's
    live gauges, then the application's own hook runs."""
    from prometheus_client.multiprocess import mark_process_dead

    def child_exit(server: Arbiter, worker: Worker) -> None:
        mark_process_dead(worker.pid)
        configured(server, worker)

    return child_exit


def _recording_listeners(configured: Callable[[Arbiter], None], drain: Drain | None) -> Callable[[Arbiter], None]:
    """A server hook that records where the master listens (and a drain under way), for the
    health check, then runs the application's own: Gunicorn's listeners are the truth,
    whatever set them. With DRAIN_SECONDS, the drain takes over the master's SIGTERM first."""

    def hook(server: Arbiter) -> None:
        if drain is not None:
            drain.attach(server)
        record_listeners(server, drain.draining if drain is not None else None)
        configured(server)

    return hook


@contextmanager
def collection_paused() -> Iterator[None]:
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def serve(
    app: AppTarget,
    command: list[str],
    mark_dead_workers: bool = False,
    handed_over: Settings | None = None,
    memory_ceiling_mb: int = 0,
    drain_seconds: int = 0,
) -> int:
    """Runs Gunicorn with `command` as its command line (`gunicorn --config ... APP`) until
    it stops; returns its exit code, 2 when the application failed to load. `handed_over` is
    the launcher's reading, for the image's configuration file; `memory_ceiling_mb`, each
    worker's (see worker_memory), and `drain_seconds`, its DRAIN_SECONDS, apply whichever
    configuration file runs. The launcher turned collection off before importing this module,
    and so Gunicorn."""
    failures = FailureLines()
    master = os.getpid()
    # Gunicorn re-executes sys.executable with sys.argv on USR2: make that the gunicorn script.
    sys.argv = [os.path.join(os.path.dirname(sys.executable), command[0]), *command[1:]]
    application = ImageApplication(app, failures, mark_dead_workers, handed_over, memory_ceiling_mb, drain_seconds)
    try:
        try:
            application.run()
        except HaltServer as halt:
            application.finish_halt(halt)
    except SystemExit as exit:
        if os.getpid() != master:
            raise  # a worker's own exit, unwinding through the master's frames it was forked in
        line = failures.first() if exit.code == Arbiter.APP_LOAD_ERROR else None
        if line is None:
            raise
        print(f"error: {line}", file=sys.stderr, flush=True)
        return 2
    return 0
