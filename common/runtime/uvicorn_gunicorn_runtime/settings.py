"""Every server setting of the image, read from the environment and checked before start.

A bad value raises SettingError with one line naming the variable and the value. The rules
live by concern: environment (reading a value), binding (BIND, HOST, PORT), discovery (the
application and the Gunicorn configuration file), workers (how many, of which class); this
module composes them into one Settings value, and holds no state between two readings.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import NamedTuple

from uvicorn_gunicorn_runtime.access_format import access_log_format
from uvicorn_gunicorn_runtime.binding import bind_from
from uvicorn_gunicorn_runtime.discovery import AppTarget, discover_app, gunicorn_conf
from uvicorn_gunicorn_runtime.environment import (
    Environment,
    access_log_exclude_paths,
    access_log_flush_seconds,
    healthcheck_path,
    invalid,
)
from uvicorn_gunicorn_runtime.limits import CpuLimit, cpu_limit, memory_limit
from uvicorn_gunicorn_runtime.virtual_env import VirtualEnv, find_virtual_env
from uvicorn_gunicorn_runtime.worker_memory import SMAPS_ROLLUP
from uvicorn_gunicorn_runtime.workers import UVICORN_WORKER_CLASSES, WorkerPlan, plan_workers, worker_class_from

LOG_LEVELS = ("critical", "error", "warning", "info", "debug")
LOG_FORMATS = ("text", "json")
PROCESS_MANAGERS = ("gunicorn", "uvicorn")
# Measured with Uvicorn 0.54: a worker that exits by itself (after its requests) may go
# unreplaced until the health-check timeout (its supervisor's ping of the exiting worker waits
# it out), and with every worker gone a request waited that long for an answer.
SLOW_REPLACEMENT = "whose supervisor can take up to TIMEOUT seconds to replace a recycled worker"
# Where the image's Gunicorn configuration file finds the launcher's reading in its own
# namespace, when Gunicorn runs in the launcher's process (see hand_over).
HANDED_OVER = "_launchers_settings"


def _multiproc_dir(env: Environment) -> str | None:
    """PROMETHEUS_MULTIPROC_DIR, which the launcher empties at start: an absolute path other than /."""
    value = env.text("PROMETHEUS_MULTIPROC_DIR")
    if value is not None and (not value.startswith("/") or Path(value).resolve() == Path("/")):
        raise invalid("PROMETHEUS_MULTIPROC_DIR", value, "the absolute path of a directory other than /")
    return value


def _max_worker_memory_mb(env: Environment, exists: Callable[[str], bool]) -> int:
    """MAX_WORKER_MEMORY_MB, a worker's PSS ceiling (see worker_memory); 0: none. A kernel without
    smaps_rollup (before Linux 4.14) cannot tell a worker its PSS."""
    ceiling = env.integer("MAX_WORKER_MEMORY_MB", 0, minimum=0)
    if ceiling and not exists(SMAPS_ROLLUP):
        value = env.raw("MAX_WORKER_MEMORY_MB", "")
        raise invalid("MAX_WORKER_MEMORY_MB", value, f"0 on a kernel without {SMAPS_ROLLUP} (before Linux 4.14)")
    return ceiling


def _log_target(env: Environment, name: str) -> str | None:
    """`-` (the default) is the console; an empty value turns the log off."""
    return env.raw(name, "-") or None


# The launcher's values are NamedTuples: a frozen dataclass costs every start about 0.3 ms to define.
class Settings(NamedTuple):
    process_manager: str
    app: AppTarget
    gunicorn_conf: str | None
    workers: WorkerPlan
    bind: str
    log_level: str
    log_format: str
    access_log: str | None
    access_log_flush_seconds: float  # 0: each line written at once (see access_log)
    access_log_format: str | None  # Gunicorn's atoms; None: the image's own line (see access_format)
    access_log_exclude_paths: tuple[str, ...]  # requests to these paths write no access line
    error_log: str | None
    worker_class: str
    timeout: int
    graceful_timeout: int
    drain_seconds: int  # 0: SIGTERM stops accepting at once (see drain)
    keep_alive: int
    forwarded_allow_ips: str
    healthcheck_path: str | None  # None: any answer on / is healthy
    max_requests: int  # 0: a worker is never recycled
    max_requests_jitter: int
    max_worker_memory_mb: int  # 0: no ceiling
    preload_app: bool
    prometheus_multiproc_dir: str | None
    virtual_env: VirtualEnv | None = None  # the application's, which the server runs under

    def summary(self) -> dict[str, object]:
        """The effective settings, as printed in one JSON line at start."""
        summary: dict[str, object] = self._asdict()
        summary["app"] = self.app.spec
        summary["workers"] = self.workers._asdict()
        summary["access_log_exclude_paths"] = list(self.access_log_exclude_paths)  # as JSON has it
        if self.virtual_env is not None:
            from uvicorn_gunicorn_runtime import server_stack  # importlib.metadata: ~20 ms, for a virtual env only

            stack = server_stack.origins(self.virtual_env, self.server_packages(), sys.path)
            summary["virtual_env"] = {**self.virtual_env._asdict(), "server_stack": stack}
        return summary

    def server_packages(self) -> tuple[str, ...]:
        """The distributions of the image's server stack that this server runs."""
        if self.process_manager == "uvicorn":
            return ("uvicorn",)
        worker_package = ("uvicorn-worker",) if self.worker_class in UVICORN_WORKER_CLASSES else ()
        return ("gunicorn", "uvicorn", *worker_package)


def load_settings(
    environ: Mapping[str, str],
    cpu: CpuLimit,
    memory_limit: int | None,
    exists: Callable[[str], bool],
    virtual_env: VirtualEnv | None = None,
) -> Settings:
    """The settings for this environment, these limits, these files and this virtual
    environment: nothing else is read."""
    env = Environment(environ)
    settings = Settings(
        process_manager=env.choice("PROCESS_MANAGER", "gunicorn", PROCESS_MANAGERS),
        app=discover_app(env, exists),
        gunicorn_conf=gunicorn_conf(env, exists),
        workers=plan_workers(env, cpu, memory_limit),
        bind=bind_from(env),
        log_level=env.choice("LOG_LEVEL", "info", LOG_LEVELS),
        log_format=env.choice("LOG_FORMAT", "text", LOG_FORMATS),
        access_log=_log_target(env, "ACCESS_LOG"),
        access_log_flush_seconds=access_log_flush_seconds(env),
        access_log_format=access_log_format(env),
        access_log_exclude_paths=access_log_exclude_paths(env),
        error_log=_log_target(env, "ERROR_LOG"),
        worker_class=worker_class_from(env),
        timeout=env.integer("TIMEOUT", 120, minimum=0),
        graceful_timeout=env.integer("GRACEFUL_TIMEOUT", 120, minimum=0),
        drain_seconds=env.integer("DRAIN_SECONDS", 0, minimum=0),
        keep_alive=env.integer("KEEP_ALIVE", 5, minimum=0),
        forwarded_allow_ips=env.text("FORWARDED_ALLOW_IPS") or "127.0.0.1,::1",
        healthcheck_path=healthcheck_path(env),
        max_requests=env.integer("MAX_REQUESTS", 0, minimum=0),
        max_requests_jitter=env.integer("MAX_REQUESTS_JITTER", 0, minimum=0),
        max_worker_memory_mb=_max_worker_memory_mb(env, exists),
        preload_app=env.boolean("PRELOAD_APP", default=False),
        prometheus_multiproc_dir=_multiproc_dir(env),
        virtual_env=virtual_env,
    )
    if settings.process_manager == "uvicorn":
        _check_for_uvicorns_manager(settings, env)
    return settings


def _check_for_uvicorns_manager(settings: Settings, env: Environment) -> None:
    """Refuses what Uvicorn's own process manager cannot do as Gunicorn would."""
    for name, value in (("ACCESS_LOG", settings.access_log), ("ERROR_LOG", settings.error_log)):
        if value not in (None, "-"):
            raise invalid(name, value, "- or empty with PROCESS_MANAGER=uvicorn, which logs to the console only")
    if settings.bind.startswith("fd://"):
        raise invalid("BIND", settings.bind, "host:port or unix:/path with PROCESS_MANAGER=uvicorn")
    if settings.worker_class not in UVICORN_WORKER_CLASSES:
        raise invalid(
            "WORKER_CLASS",
            env.raw("WORKER_CLASS", ""),
            f"{' or '.join(UVICORN_WORKER_CLASSES)} with PROCESS_MANAGER=uvicorn, which runs no Gunicorn worker",
        )
    if settings.timeout == 0:
        raise invalid(
            "TIMEOUT",
            env.raw("TIMEOUT", ""),
            "a whole number from 1 up with PROCESS_MANAGER=uvicorn, whose worker health check cannot be turned off",
        )
    if settings.preload_app:
        preload = env.raw("PRELOAD_APP", "")
        raise invalid("PRELOAD_APP", preload, "false with PROCESS_MANAGER=uvicorn, which has no preload")
    if settings.drain_seconds:
        # Uvicorn is exec'd as PID 1 (see launch): nothing of the image is left to hold its
        # SIGTERM back, and its supervisor stops its workers at once.
        raise invalid(
            "DRAIN_SECONDS",
            env.raw("DRAIN_SECONDS", ""),
            "0 with PROCESS_MANAGER=uvicorn, whose supervisor stops serving at the first SIGTERM",
        )
    for name, recycles in (
        ("MAX_REQUESTS", settings.max_requests),
        ("MAX_WORKER_MEMORY_MB", settings.max_worker_memory_mb),
    ):
        if recycles:
            raise invalid(name, env.raw(name, ""), f"0 with PROCESS_MANAGER=uvicorn, {SLOW_REPLACEMENT}")


def load_from_container(environ: Mapping[str, str]) -> Settings:
    """The settings for this container: its limits from its cgroups, its files from its disk."""
    return load_in_container(environ, find_virtual_env(environ))


def load_in_container(environ: Mapping[str, str], virtual_env: VirtualEnv | None) -> Settings:
    """The same, with the virtual environment the launcher has already found."""
    return load_settings(environ, cpu_limit(), memory_limit(), lambda path: Path(path).is_file(), virtual_env)


def hand_over(settings: Settings) -> dict[str, object]:
    """What the image's Gunicorn configuration file starts with in its namespace, the first time
    Gunicorn runs it in the launcher's own process (see gunicorn_server): the launcher's reading,
    so that the container's limits are read, and any warning printed, once."""
    return {HANDED_OVER: settings}


def load_for_gunicorn(environ: Mapping[str, str], namespace: Mapping[str, object]) -> Settings:
    """The launcher's reading, when the configuration file's `namespace` was handed it; read
    afresh under a bare `gunicorn` command and on every configuration reload (SIGHUP), which
    may follow a change of the limits."""
    handed_over = namespace.get(HANDED_OVER)
    return handed_over if isinstance(handed_over, Settings) else load_from_container(environ)
