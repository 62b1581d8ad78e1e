"""Throughput and latency of one image under each server configuration, side by side, in
alternating rounds."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from devtools.bench.memory import ServerMemory, read_memory
from devtools.bench.rounds import LoadRounds, alternating
from devtools.bench.server import ServerError, ServerSpec, running
from devtools.bench.wrk import CONNECTIONS, LoadResult, run_load

# On a small machine wrk and the server each get a core of their own.
LOAD_CPU = 0
SERVER_CPU = "1"
WARM_UP_SECONDS = 1
ENDPOINTS = {"sample app (/)": "/", "JSON (/json)": "/json"}
DEFAULT = "default"
UVICORN_MANAGER = "PROCESS_MANAGER=uvicorn"
PLAIN_UVICORN = "one plain uvicorn process"
SWEEP_PREFIX = "WEB_CONCURRENCY="  # the fixed worker counts: WEB_CONCURRENCY=1, ...
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
    load: LoadRounds


@dataclass(frozen=True)
class MemoryReading:
    idle: ServerMemory
    after_load: ServerMemory


@dataclass(frozen=True)
class ConfigurationRound:
    """One container of one configuration: its worker count, each endpoint's load, its memory."""

    workers: int
    loads: dict[str, LoadResult]
    memory: MemoryReading


def sweep_name(workers: int) -> str:
    return f"{SWEEP_PREFIX}{workers}"


def configurations(sweep: Sequence[int]) -> list[Configuration]:
    return [
        Configuration(DEFAULT),
        *(Configuration(sweep_name(count), {"WEB_CONCURRENCY": str(count)}) for count in sweep),
        Configuration(UVICORN_MANAGER, {"PROCESS_MANAGER": "uvicorn"}),
        Configuration(PLAIN_UVICORN, command=PLAIN_UVICORN_COMMAND),
    ]


def measure_round(image: str, configuration: Configuration, seconds: float) -> ConfigurationRound:
    spec = ServerSpec(image, configuration.environment, configuration.command, cpuset=SERVER_CPU)
    with running(spec) as server:
        workers = 1 if configuration.command else int(server.settings()["workers"]["count"])
        idle = read_memory(server)
        run_load(server.url("/"), WARM_UP_SECONDS, LOAD_CPU)
        loads = {endpoint: run_load(server.url(path), seconds, LOAD_CPU) for endpoint, path in ENDPOINTS.items()}
        return ConfigurationRound(workers, loads, MemoryReading(idle, read_memory(server)))


def measure_throughput(
    image: str, measured: Sequence[Configuration], seconds: float, rounds: int
) -> tuple[list[Measurement], dict[str, MemoryReading]]:
    """Every configuration once per round, in alternating rounds; the memory of each
    configuration's first container."""
    by_name = {configuration.name: configuration for configuration in measured}
    results = alternating(list(by_name), lambda name: measure_round(image, by_name[name], seconds), rounds)
    measurements, memory = [], {}
    for name, configuration_rounds in results.items():
        counts = sorted({configuration_round.workers for configuration_round in configuration_rounds})
        if len(counts) != 1:
            raise ServerError(f"{name} started {counts} workers in different rounds")
        for endpoint in ENDPOINTS:
            loads = LoadRounds.of([configuration_round.loads[endpoint] for configuration_round in configuration_rounds])
            measurements.append(Measurement(name, counts[0], endpoint, loads))
        memory[name] = configuration_rounds[0].memory
    return measurements, memory
