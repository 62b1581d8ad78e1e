"""Every server setting of the image, read from the environment and checked before start.

A bad value raises SettingError with one line naming the variable and the value.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

from uvicorn_gunicorn_runtime.limits import CpuLimit, cpu_limit, memory_limit

LOG_LEVELS = ("critical", "error", "warning", "info", "debug")
LOG_FORMATS = ("text", "json")
PROCESS_MANAGERS = ("gunicorn", "uvicorn")
DEFAULT_WORKER_CLASS = "uvicorn_worker.UvicornWorker"
H11_WORKER_CLASS = "uvicorn_worker.UvicornH11Worker"
UVICORN_WORKER_CLASSES = (DEFAULT_WORKER_CLASS, H11_WORKER_CLASS)
# The original image's names, from Uvicorn's own uvicorn.workers module (deprecated upstream).
ORIGINAL_WORKER_CLASSES = {
    "uvicorn.workers.UvicornWorker": DEFAULT_WORKER_CLASS,
    "uvicorn.workers.UvicornH11Worker": H11_WORKER_CLASS,
}
IMAGE_GUNICORN_CONF = "/gunicorn_conf.py"
GUNICORN_CONF_CANDIDATES = ("/app/gunicorn_conf.py", "/app/app/gunicorn_conf.py", IMAGE_GUNICORN_CONF)
# One worker serving the sample app, after 2,000 requests, measured 29 MiB RSS (16 MiB PSS)
# on linux/amd64 (see the README); the budget leaves about 100 MiB for the application.
DEFAULT_MEMORY_PER_WORKER_MB = 128
MIB = 1 << 20
# Each pattern is used with fullmatch: `$` alone would let a trailing newline through.
DOTTED_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Patterns of variables that are often unset: compiled on first use, by re's own cache.
CLASS_PATH = r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+"
# Plain ASCII digits: int() and float() would also take " 8 ", "+3", "1_000" and "1e3". At
# most 20 of them, well below the length at which int() refuses a string.
WHOLE_NUMBER = r"[0-9]{1,20}"
DECIMAL = r"[0-9]{1,20}\.?[0-9]{0,20}|\.[0-9]{1,20}"
HOST_LABEL = r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)"
BIND_FORMS = "host:port or [ipv6]:port with a port from 1 to 65535, unix:/path or fd://N"
# It goes into the health check's request line as written: printable ASCII, no space.
HEALTHCHECK_PATH_FORM = r"/[!-~]*"


class SettingError(ValueError):
    """A setting has a value the server cannot start with."""


def _invalid(name: str, value: str, expected: str) -> SettingError:
    return SettingError(f"{name}={value!r} is not valid: expected {expected}")


def decimal_times(decimal: str, whole: int) -> int:
    """decimal x whole, rounded down, for a decimal as DECIMAL takes it, without float error:
    0.57 x 100 is 57, where the float product 56.99999999999999 would truncate to 56."""
    integral, _, fraction = decimal.partition(".")
    scale: int = 10 ** len(fraction)
    return int(integral + fraction) * whole // scale


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
        if not re.fullmatch(WHOLE_NUMBER, value):
            raise _invalid(name, value, expected)
        number = int(value)
        if number < minimum or (maximum is not None and number > maximum):
            raise _invalid(name, value, expected)
        return number

    def positive_decimal(self, name: str, default: str) -> str:
        """The value as written, checked: digits with at most one point, above 0."""
        value = self.text(name)
        if value is None:
            return default
        if not re.fullmatch(DECIMAL, value) or not value.strip("0."):
            raise _invalid(name, value, "a number above 0, such as 0.5 or 3")
        return value

    def seconds_up_to_one(self, name: str, default: str) -> float:
        """A number of seconds from 0 to 1, as digits with at most one point."""
        value = self.text(name)
        if value is None:
            return float(default)
        if not re.fullmatch(DECIMAL, value) or float(value) > 1:
            raise _invalid(name, value, "a number of seconds from 0 to 1, such as 0.5")
        return float(value)

    def boolean(self, name: str, default: bool) -> bool:
        """true or false, in any case."""
        return self.choice(name, "true" if default else "false", ("true", "false")) == "true"

    def choice(self, name: str, default: str, choices: tuple[str, ...]) -> str:
        """One of `choices`, in any case."""
        value = self.text(name)
        if value is None:
            return default
        if value.lower() not in choices:
            raise _invalid(name, value, f"one of {', '.join(choices)}")
        return value.lower()


@dataclass(frozen=True)
class AppTarget:
    module: str
    variable: str
    # The variables the target came from, for error messages: ("APP_MODULE",) or ("MODULE_NAME", "VARIABLE_NAME").
    named_by: tuple[str, ...]
    # `main:create_app()`, Gunicorn's (and so the original image's) form: the variable is a
    # factory, called without arguments, that returns the application.
    factory: bool = False

    @property
    def spec(self) -> str:
        return f"{self.module}:{self.variable}" + ("()" if self.factory else "")

    def describe(self) -> str:
        if self.named_by == ("APP_MODULE",):
            return f"APP_MODULE={self.spec!r}"
        return f"MODULE_NAME={self.module!r} VARIABLE_NAME={self.spec.partition(':')[2]!r}"


def _parse_app_module(value: str) -> AppTarget:
    module, separator, variable = value.partition(":")
    name = variable.removesuffix("()")
    if not separator or not DOTTED_NAME.fullmatch(module) or not IDENTIFIER.fullmatch(name):
        raise _invalid("APP_MODULE", value, "module:variable, such as main:app, or module:factory()")
    return AppTarget(module, name, ("APP_MODULE",), factory=name != variable)


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
    if not DOTTED_NAME.fullmatch(module):
        raise _invalid("MODULE_NAME", module, "a module name such as app.main")
    variable = env.text("VARIABLE_NAME") or "app"
    name = variable.removesuffix("()")
    if not IDENTIFIER.fullmatch(name):
        raise _invalid("VARIABLE_NAME", variable, "a Python identifier such as app, or factory()")
    return AppTarget(module, name, ("MODULE_NAME", "VARIABLE_NAME"), factory=name != variable)


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
    per_core = env.positive_decimal("WORKERS_PER_CORE", "1")
    max_workers = env.optional_integer("MAX_WORKERS", minimum=1)
    web_concurrency = env.optional_integer("WEB_CONCURRENCY", minimum=1)
    per_worker_mb = env.integer("MEMORY_PER_WORKER_MB", DEFAULT_MEMORY_PER_WORKER_MB, minimum=1)
    limit_mb = memory_limit // MIB if memory_limit is not None else None
    if web_concurrency is not None:
        count, rule = web_concurrency, "WEB_CONCURRENCY"
    else:
        count = max(decimal_times(per_core, cpu.count), 2)
        rule = f"max(2, int(WORKERS_PER_CORE {per_core} x {cpu.count} CPUs))"
        if max_workers is not None and max_workers < count:
            count, rule = max_workers, f"MAX_WORKERS {max_workers}"
        if limit_mb is not None and limit_mb // per_worker_mb < count:
            count = max(1, limit_mb // per_worker_mb)
            rule = f"memory: {limit_mb} MiB limit / MEMORY_PER_WORKER_MB {per_worker_mb}"
    return WorkerPlan(count, rule, cpu.affinity, cpu.quota, cpu.count, limit_mb, per_worker_mb)


def _is_ipv4(host: str) -> bool:
    # No leading zeros: the C resolver reads 010 as octal 8.
    parts = host.split(".")
    return len(parts) == 4 and all(
        re.fullmatch(WHOLE_NUMBER, part) and int(part) <= 255 and (part == "0" or part[0] != "0") for part in parts
    )


def _is_ipv6(host: str) -> bool:
    import ipaddress  # only for a host with a colon: the default start does without it

    try:
        ipaddress.IPv6Address(host)
    except ValueError:
        return False
    return True


def _is_host_name(host: str) -> bool:
    """RFC 1123 labels; an all-numeric last label is a malformed IPv4 address, not a name."""
    labels = host.removesuffix(".").split(".")
    return len(host) <= 253 and all(re.fullmatch(HOST_LABEL, label) for label in labels) and not labels[-1].isdigit()


def _bind_host(host: str) -> str | None:
    """The host as an address to bind takes it (an IPv6 address in brackets), or None when it is
    neither an IPv4 address, nor an IPv6 address (with or without brackets), nor a host name."""
    address = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if ":" in address or address != host:
        return f"[{address}]" if _is_ipv6(address) else None
    return host if _is_ipv4(host) or _is_host_name(host) else None


def _is_port(text: str) -> bool:
    return re.fullmatch(WHOLE_NUMBER, text) is not None and 1 <= int(text) <= 65535


def parse_bind(value: str) -> str:
    if value.startswith("unix:"):
        valid = value != "unix:"
    elif value.startswith("fd://"):
        valid = re.fullmatch(WHOLE_NUMBER, value.removeprefix("fd://")) is not None
    else:
        host, separator, port = value.rpartition(":")
        # Unbracketed, "::1:80" could be host ::1 or host ::1:80; Gunicorn needs the brackets.
        unbracketed_ipv6 = ":" in host and not host.startswith("[")
        valid = bool(separator) and _is_port(port) and not unbracketed_ipv6 and _bind_host(host) is not None
    if not valid:
        raise _invalid("BIND", value, BIND_FORMS)
    return value


def bind_address(bind: str) -> tuple[str, int] | str | None:
    """A checked bind as an address: (host, port), an IPv6 host without its brackets; the path
    of a unix: socket; None for fd://N, whose address only the process holding it knows."""
    if bind.startswith("unix:"):
        return bind.removeprefix("unix:")
    if bind.startswith("fd://"):
        return None
    host, _, port = bind.rpartition(":")
    return host.removeprefix("[").removesuffix("]"), int(port)


def access_log_flush_seconds(environ: Mapping[str, str]) -> float:
    """ACCESS_LOG_FLUSH_SECONDS: how long an access line may wait in a batch (see access_log);
    0 writes each line at once. Read here at start, and again by each worker's handlers."""
    return Environment(environ).seconds_up_to_one("ACCESS_LOG_FLUSH_SECONDS", "0.5")


def bind_from(environ: Mapping[str, str]) -> str:
    """Where the environment says the server listens: BIND, else HOST:PORT, checked."""
    return _bind(Environment(environ))


def healthcheck_path(env: Environment) -> str | None:
    value = env.text("HEALTHCHECK_PATH")
    if value is not None and not re.fullmatch(HEALTHCHECK_PATH_FORM, value):
        raise _invalid("HEALTHCHECK_PATH", value, "a path starting with /, such as /health, in ASCII without spaces")
    return value


def _bind(env: Environment) -> str:
    """BIND, else HOST:PORT; HOST and PORT are checked even when BIND wins over them."""
    port = env.integer("PORT", 80, minimum=1, maximum=65535)
    host = env.text("HOST")
    bind_host = "0.0.0.0" if host is None else _bind_host(host)
    if bind_host is None:
        raise _invalid("HOST", host or "", "an IP address or a host name, without a port (PORT sets the port)")
    explicit = env.text("BIND")
    return parse_bind(explicit) if explicit is not None else f"{bind_host}:{port}"


def worker_class_path(value: str) -> str | None:
    """The class Gunicorn is to load for a worker class as written: an original image's name
    becomes uvicorn-worker's; None when it is not written as module.Class."""
    path = ORIGINAL_WORKER_CLASSES.get(value, value)
    return path if re.fullmatch(CLASS_PATH, path) else None


def renamed_worker_class_notice(value: object, named_by: str) -> str | None:
    """The one line saying that a worker class of the original image was replaced, if it was."""
    if not isinstance(value, str) or value not in ORIGINAL_WORKER_CLASSES:
        return None
    return (
        f"notice: {named_by} is the original image's name; using {ORIGINAL_WORKER_CLASSES[value]}"
        " (Uvicorn's uvicorn.workers module is deprecated)"
    )


def _worker_class(env: Environment) -> str:
    value = env.text("WORKER_CLASS")
    if value is None:
        return DEFAULT_WORKER_CLASS
    path = worker_class_path(value)
    if path is None:
        expected = f"a Gunicorn worker class as module.Class, such as {DEFAULT_WORKER_CLASS}"
        raise _invalid("WORKER_CLASS", value, expected)
    return path


def _multiproc_dir(env: Environment) -> str | None:
    """PROMETHEUS_MULTIPROC_DIR, which the launcher empties at start: an absolute path other than /."""
    value = env.text("PROMETHEUS_MULTIPROC_DIR")
    if value is not None and (not value.startswith("/") or Path(value).resolve() == Path("/")):
        raise _invalid("PROMETHEUS_MULTIPROC_DIR", value, "the absolute path of a directory other than /")
    return value


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
    access_log_flush_seconds: float  # 0: each line written at once (see access_log)
    error_log: str | None
    worker_class: str
    timeout: int
    graceful_timeout: int
    keep_alive: int
    forwarded_allow_ips: str
    healthcheck_path: str | None  # None: any answer on / is healthy
    max_requests: int  # 0: a worker is never recycled
    max_requests_jitter: int
    preload_app: bool
    prometheus_multiproc_dir: str | None

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
        access_log_flush_seconds=access_log_flush_seconds(environ),
        error_log=_log_target(env, "ERROR_LOG"),
        worker_class=_worker_class(env),
        timeout=env.integer("TIMEOUT", 120, minimum=0),
        graceful_timeout=env.integer("GRACEFUL_TIMEOUT", 120, minimum=0),
        keep_alive=env.integer("KEEP_ALIVE", 5, minimum=0),
        forwarded_allow_ips=env.text("FORWARDED_ALLOW_IPS") or "127.0.0.1,::1",
        healthcheck_path=healthcheck_path(env),
        max_requests=env.integer("MAX_REQUESTS", 0, minimum=0),
        max_requests_jitter=env.integer("MAX_REQUESTS_JITTER", 0, minimum=0),
        preload_app=env.boolean("PRELOAD_APP", default=False),
        prometheus_multiproc_dir=_multiproc_dir(env),
    )
    if settings.process_manager == "uvicorn":
        for name, value in (("ACCESS_LOG", settings.access_log), ("ERROR_LOG", settings.error_log)):
            if value not in (None, "-"):
                raise _invalid(name, value, "- or empty with PROCESS_MANAGER=uvicorn, which logs to the console only")
        if settings.bind.startswith("fd://"):
            raise _invalid("BIND", settings.bind, "host:port or unix:/path with PROCESS_MANAGER=uvicorn")
        if settings.worker_class not in UVICORN_WORKER_CLASSES:
            raise _invalid(
                "WORKER_CLASS",
                env.raw("WORKER_CLASS", ""),
                f"{' or '.join(UVICORN_WORKER_CLASSES)} with PROCESS_MANAGER=uvicorn, which runs no Gunicorn worker",
            )
        if settings.timeout == 0:
            raise _invalid(
                "TIMEOUT",
                env.raw("TIMEOUT", ""),
                "a whole number from 1 up with PROCESS_MANAGER=uvicorn, whose worker health check cannot be turned off",
            )
        if settings.preload_app:
            preload = env.raw("PRELOAD_APP", "")
            raise _invalid("PRELOAD_APP", preload, "false with PROCESS_MANAGER=uvicorn, which has no preload")
        if settings.max_requests:
            # Measured with Uvicorn 0.54: a worker that exits after its requests may go unreplaced
            # until the health-check timeout (its supervisor's ping of the exiting worker waits it
            # out), and with every worker gone a request waited that long for an answer.
            raise _invalid(
                "MAX_REQUESTS",
                env.raw("MAX_REQUESTS", ""),
                "0 with PROCESS_MANAGER=uvicorn, whose supervisor can take up to TIMEOUT seconds"
                " to replace a recycled worker",
            )
    return settings


def load_from_container(environ: Mapping[str, str]) -> Settings:
    return load_settings(environ, cpu_limit(), memory_limit(), lambda path: Path(path).is_file())


_handed_over: list[Settings] = []


def hand_over(settings: Settings) -> None:
    """Keeps the launcher's reading for Gunicorn's configuration file, which runs next in the
    same process: the container's limits are read, and any warning printed, once."""
    _handed_over[:] = [settings]


def load_for_gunicorn(environ: Mapping[str, str]) -> Settings:
    """The launcher's reading the first time; read afresh under a bare `gunicorn` command and
    on every configuration reload (SIGHUP), which may follow a change of the limits."""
    if _handed_over:
        return _handed_over.pop()
    return load_from_container(environ)
