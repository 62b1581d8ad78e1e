"""Throughput and latency of one image under each server configuration, side by side."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from devtools.bench.memory import ServerMemory, read_memory
from devtools.bench.server import ServerSpec, running
from devtools.bench.wrk import CONNECTIONS, LoadResult, run_load

# On a small machine wrk and the server each get a core of their own.
LOAD_CPU = 0
SERVER_CPU = "1"
WARM_UP_SECONDS = 1
ENDPOINTS = {"sample app (/)": "/", "JSON (/json)": "/json"}
DEFAULT = "default"
UVICORN_MANAGER = "PROCESS_MANAGER=uvicorn"
PLAIN_UVICORN = "one plain uvicorn process"
PLAIN_UVICORN_COMMAND = (
    "uvicorn", "bench_app:app", "--host", "127.0.0.1", "--port", "{port}", "--no-access-log", "--log-level", "warning",
)  # fmt: skip


def warmed_load(url: str, seconds: float, connections: int = CONNECTIONS) -> LoadResult:
    """A short unmeasured load first (imports, caches, connection set-up), then the measured one."""
    run_load(url, WARM_UP_SECONDS, LOAD_CPU, connections)
    return run_load(url, seconds, LOAD_CPU, connections)


@dataclass(frozen=True)
class Configuration:
    name: str
    environment: Mapping[str, str] = field(default_factory=dict)
    command: Sequence[str] = ()


@dataclass(frozen=True)
class Measurement:
    configuration: str
    workers: int
    endpoint: str
    load: LoadResult


@dataclass(frozen=True)
class MemoryReading:
    idle: ServerMemory
    after_load: ServerMemory


def sweep_name(workers: int) -> str:
    return f"WEB_CONCURRENCY={workers}"


def configurations(sweep: Sequence[int]) -> list[Configuration]:
    return [
        Configuration(DEFAULT),
        *(Configuration(sweep_name(count), {"WEB_CONCURRENCY": str(count)}) for count in sweep),
        Configuration(UVICORN_MANAGER, {"PROCESS_MANAGER": "uvicorn"}),
        Configuration(PLAIN_UVICORN, command=PLAIN_UVICORN_COMMAND),
    ]


def measure_configuration(
    image: str, configuration: Configuration, seconds: float
) -> tuple[list[Measurement], MemoryReading]:
    spec = ServerSpec(image, configuration.environment, configuration.command, cpuset=SERVER_CPU)
    with running(spec) as server:
        workers = 1 if configuration.command else int(server.settings()["workers"]["count"])
        idle = read_memory(server)
        run_load(server.url("/"), WARM_UP_SECONDS, LOAD_CPU)
        measurements = [
            Measurement(configuration.name, workers, endpoint, run_load(server.url(path), seconds, LOAD_CPU))
            for endpoint, path in ENDPOINTS.items()
        ]
        return measurements, MemoryReading(idle, read_memory(server))
