"""What the access log costs: the sample app's throughput with the log off, to /dev/null, to
standard output under `--log-driver none` and under the engine's default driver (json-file,
what users run), for both log formats and both process managers; each batched (the image's
default) and written line by line (ACCESS_LOG_FLUSH_SECONDS=0, the image before batching)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from devtools.bench.server import ServerSpec, running
from devtools.bench.throughput import SERVER_CPU, warmed_load
from devtools.bench.wrk import LoadResult

LOG_OFF = "access log off (ACCESS_LOG=)"
LINE_BY_LINE = {"ACCESS_LOG_FLUSH_SECONDS": "0"}


@dataclass(frozen=True)
class LogPoint:
    name: str
    environment: Mapping[str, str] = field(default_factory=dict)
    log_driver: str | None = None  # None: the engine's default, json-file
    access_log_off: bool = False


def _both_ways(name: str, environment: Mapping[str, str], log_driver: str | None = None) -> list[LogPoint]:
    return [
        LogPoint(f"{name}, line by line (before)", {**environment, **LINE_BY_LINE}, log_driver),
        LogPoint(f"{name}, batched (default)", environment, log_driver),
    ]


def log_points() -> list[LogPoint]:
    return [
        LogPoint(LOG_OFF, access_log_off=True),
        *_both_ways("access log to /dev/null (ACCESS_LOG=/dev/null)", {"ACCESS_LOG": "/dev/null"}),
        *_both_ways("default, --log-driver none", {}, "none"),
        *_both_ways("default, json-file driver", {}),
        *_both_ways("LOG_FORMAT=json, json-file driver", {"LOG_FORMAT": "json"}),
        *_both_ways("PROCESS_MANAGER=uvicorn, json-file driver", {"PROCESS_MANAGER": "uvicorn"}),
    ]


@dataclass(frozen=True)
class LogMeasurement:
    point: str
    load: LoadResult


def measure_log_point(image: str, point: LogPoint, seconds: float) -> LogMeasurement:
    spec = ServerSpec(
        image,
        point.environment,
        cpuset=SERVER_CPU,
        access_log_off=point.access_log_off,
        log_driver=point.log_driver,
    )
    with running(spec) as server:
        load = warmed_load(server.url("/"), seconds)
        return LogMeasurement(point.name, load)
