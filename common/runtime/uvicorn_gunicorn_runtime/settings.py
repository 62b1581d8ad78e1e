"""Every server setting of the image, read from the environment and checked before start.

A bad value raises SettingError with one line naming the variable and the value.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

from uvicorn_gunicorn_runtime.limits import CpuLimit, cpu_limit, memory_limit

LOG_LEVELS = ("critical", "error", "warning", "info", "debug")
LOG_FORMATS = ("text", "json")
PROCESS_MANAGERS = ("gunicorn", "uvicorn")
WORKER_CLASSES = ("uvicorn_worker.UvicornWorker", "uvicorn_worker.UvicornH11Worker")
GUNICORN_CONF_CANDIDATES = ("/app/gunicorn_conf.py", "/app/app/gunicorn_conf.py", "/gunicorn_conf.py")
# One worker serving the sample app, after 2,000 requests, measured 29 MiB RSS (16 MiB PSS)
# on linux/amd64 (see the README); the budget leaves about 100 MiB for the application.
DEFAULT_MEMORY_PER_WORKER_MB = 128
MIB = 1 << 20
DOTTED_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class SettingError(ValueError):
    """A setting has a value the server cannot start with."""


def _invalid(name: str, value: str, expected: str) -> SettingError:
    return SettingError(f"{name}={value!r} is not valid: expected {expected}")


class Environment:
    """Typed, checked reads of environment variables; empty counts as unset."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ

    def text(self, name: str) -> str | None:
        value = self._environ.get(name, "")
        return value if value != "" else None

    def raw(self, name: str, default: str) -> str:
        """The value as given, empty included (ACCESS_LOG= means off)."""
        return self._environ.get(name, default)

    def integer(self, name: str, default: int, minimum: int, maximum: int | None = None) -> int:
        value = self.optional_integer(name, minimum, maximum)
        return default if value is None else value

    def optional_integer(self, name: str, minimum: int, maximum: int | None = None) -> int | None:
        value = self.text(name)
        if value is None:
            return None
        expected = f"a whole number from {minimum}" + (f" to {maximum}" if maximum is not None else " up")
        try:
            number = int(value)
        except ValueError:
            raise _invalid(name, value, expected) from None
        if number < minimum or (maximum is not None and number > maximum):
            raise _invalid(name, value, expected)
        return number

    def number(self, name: str, default: float, above: float) -> float:
        value = self.text(name)
        if value is None:
            return default
        try:
            number = float(value)
        except ValueError:
            raise _invalid(name, value, f"a number above {above:g}") from None
        if not math.isfinite(number) or number <= above:
            raise _invalid(name, value, f"a number above {above:g}")
        return number

    def choice(self, name: str, default: str, choices: tuple[str, ...], fold_case: bool = True) -> str:
        value = self.text(name)
        if value is None:
            return default
        candidate = value.lower() if fold_case else value
        if candidate not in choices:
            raise _invalid(name, value, f"one of {', '.join(choices)}")
        return candidate


@dataclass(frozen=True)
class AppTarget:
    module: str
    variable: str
    # The variables the target came from, for error messages: ("APP_MODULE",) or ("MODULE_NAME", "VARIABLE_NAME").
    named_by: tuple[str, ...]

    @property
    def spec(self) -> str:
        return f"{self.module}:{self.variable}"

    def describe(self) -> str:
        if self.named_by == ("APP_MODULE",):
            return f"APP_MODULE={self.spec!r}"
        return f"MODULE_NAME={self.module!r} VARIABLE_NAME={self.variable!r}"


def _parse_app_module(value: str) -> AppTarget:
    module, separator, variable = value.partition(":")
    if not separator or not DOTTED_NAME.match(module) or not IDENTIFIER.match(variable):
        raise _invalid("APP_MODULE", value, "module:variable, such as main:app")
    return AppTarget(module, variable, ("APP_MODULE",))


def _default_module(exists: Callable[[str], bool]) -> str:
    if exists("/app/app/main.py"):
        return "app.main"
    if exists("/app/main.py"):
        return "main"
    raise SettingError(
        "no application found: neither /app/app/main.py nor /app/main.py exists; set APP_MODULE or MODULE_NAME"
    )


def discover_app(env: Environment, exists: Callable[[str], bool]) -> AppTarget:
    explicit = env.text("APP_MODULE")
    if explicit is not None:
        return _parse_app_module(explicit)
    module = env.text("MODULE_NAME") or _default_module(exists)
    if not DOTTED_NAME.match(module):
        raise _invalid("MODULE_NAME", module, "a module name such as app.main")
    variable = env.text("VARIABLE_NAME") or "app"
    if not IDENTIFIER.match(variable):
        raise _invalid("VARIABLE_NAME", variable, "a Python identifier such as app")
    return AppTarget(module, variable, ("MODULE_NAME", "VARIABLE_NAME"))


def gunicorn_conf(env: Environment, exists: Callable[[str], bool]) -> str | None:
    explicit = env.text("GUNICORN_CONF")
    if explicit is not None:
        if not exists(explicit):
            raise _invalid("GUNICORN_CONF", explicit, "the path of an existing file")
        return explicit
    return next((path for path in GUNICORN_CONF_CANDIDATES if exists(path)), None)


@dataclass(frozen=True)
class WorkerPlan:
    count: int
    rule: str  # how the count was reached, for the start-up line
    cpu_affinity: int
    cpu_quota: float | None
    cpus: int
    memory_limit_mb: int | None
    memory_per_worker_mb: int


def plan_workers(env: Environment, cpu: CpuLimit, memory_limit: int | None) -> WorkerPlan:
    per_core = env.number("WORKERS_PER_CORE", 1.0, above=0)
    max_workers = env.optional_integer("MAX_WORKERS", minimum=1)
    web_concurrency = env.optional_integer("WEB_CONCURRENCY", minimum=1)
    per_worker_mb = env.integer("MEMORY_PER_WORKER_MB", DEFAULT_MEMORY_PER_WORKER_MB, minimum=1)
    limit_mb = memory_limit // MIB if memory_limit is not None else None
    if web_concurrency is not None:
        count, rule = web_concurrency, "WEB_CONCURRENCY"
    else:
        count = max(int(per_core * cpu.count), 2)
        rule = f"max(2, int(WORKERS_PER_CORE {per_core:g} x {cpu.count} CPUs))"
        if max_workers is not None and max_workers < count:
            count, rule = max_workers, f"MAX_WORKERS {max_workers}"
        if limit_mb is not None and limit_mb // per_worker_mb < count:
            count = max(1, limit_mb // per_worker_mb)
            rule = f"memory: {limit_mb} MiB limit / MEMORY_PER_WORKER_MB {per_worker_mb}"
    return WorkerPlan(count, rule, cpu.affinity, cpu.quota, cpu.count, limit_mb, per_worker_mb)


def parse_bind(value: str) -> str:
    if value.startswith(("unix:", "fd://")):
        return value
    host, separator, port = value.rpartition(":")
    if not separator or not host or not port.isdigit() or int(port) > 65535:
        raise _invalid("BIND", value, "host:port, [ipv6]:port or unix:/path")
    return value


def _bind(env: Environment) -> str:
    explicit = env.text("BIND")
    if explicit is not None:
        return parse_bind(explicit)
    host = env.text("HOST") or "0.0.0.0"
    port = env.integer("PORT", 80, minimum=1, maximum=65535)
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _log_target(env: Environment, name: str) -> str | None:
    """`-` (the default) is the console; an empty value turns the log off."""
    return env.raw(name, "-") or None


@dataclass(frozen=True)
class Settings:
    process_manager: str
    app: AppTarget
    gunicorn_conf: str | None
    workers: WorkerPlan
    bind: str
    log_level: str
    log_format: str
    access_log: str | None
    error_log: str | None
    worker_class: str
    timeout: int
    graceful_timeout: int
    keep_alive: int
    forwarded_allow_ips: str

    def summary(self) -> dict[str, object]:
        """The effective settings, as printed in one JSON line at start."""
        summary = asdict(self)
        summary["app"] = self.app.spec
        return summary


def load_settings(
    environ: Mapping[str, str], cpu: CpuLimit, memory_limit: int | None, exists: Callable[[str], bool]
) -> Settings:
    env = Environment(environ)
    settings = Settings(
        process_manager=env.choice("PROCESS_MANAGER", "gunicorn", PROCESS_MANAGERS),
        app=discover_app(env, exists),
        gunicorn_conf=gunicorn_conf(env, exists),
        workers=plan_workers(env, cpu, memory_limit),
        bind=_bind(env),
        log_level=env.choice("LOG_LEVEL", "info", LOG_LEVELS),
        log_format=env.choice("LOG_FORMAT", "text", LOG_FORMATS),
        access_log=_log_target(env, "ACCESS_LOG"),
        error_log=_log_target(env, "ERROR_LOG"),
        worker_class=env.choice("WORKER_CLASS", WORKER_CLASSES[0], WORKER_CLASSES, fold_case=False),
        timeout=env.integer("TIMEOUT", 120, minimum=0),
        graceful_timeout=env.integer("GRACEFUL_TIMEOUT", 120, minimum=0),
        keep_alive=env.integer("KEEP_ALIVE", 5, minimum=0),
        forwarded_allow_ips=env.text("FORWARDED_ALLOW_IPS") or "127.0.0.1,::1",
    )
    if settings.process_manager == "uvicorn":
        for name, value in (("ACCESS_LOG", settings.access_log), ("ERROR_LOG", settings.error_log)):
            if value not in (None, "-"):
                raise _invalid(name, value, "- or empty with PROCESS_MANAGER=uvicorn, which logs to the console only")
        if settings.bind.startswith("fd://"):
            raise _invalid("BIND", settings.bind, "host:port or unix:/path with PROCESS_MANAGER=uvicorn")
    return settings


def load_from_container(environ: Mapping[str, str]) -> Settings:
    return load_settings(environ, cpu_limit(), memory_limit(), lambda path: Path(path).is_file())
