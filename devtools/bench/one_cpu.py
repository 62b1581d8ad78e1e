"""How many workers on one CPU: one against two (what the "at least two workers" rule
starts), with the access log on as users run it, on the sample app (/) and on a handler
that blocks its event loop with 5 ms of CPU work (/cpu); the two counts in alternating rounds."""

from __future__ import annotations

from dataclasses import dataclass

from devtools.bench.rounds import LoadRounds, alternating
from devtools.bench.server import ServerSpec, running
from devtools.bench.throughput import SERVER_CPU, warmed_load
from devtools.bench.wrk import CONNECTIONS, LoadResult

WORKER_COUNTS = (1, 2)
# Connections per endpoint: at 5 ms a request, 64 connections on one worker would wait
# 320 ms each, beyond what a client of such an endpoint would keep open.
ENDPOINTS = {"/": CONNECTIONS, "/cpu": 8}


@dataclass(frozen=True)
class OneCpuMeasurement:
    endpoint: str
    workers: int
    connections: int
    load: LoadRounds


def _one_round(image: str, workers: int, seconds: float) -> dict[str, LoadResult]:
    spec = ServerSpec(image, {"WEB_CONCURRENCY": str(workers)}, cpuset=SERVER_CPU, access_log_off=False)
    with running(spec) as server:
        return {
            endpoint: warmed_load(server.url(endpoint), seconds, connections)
            for endpoint, connections in ENDPOINTS.items()
        }


def measure_one_cpu(image: str, seconds: float, rounds: int) -> list[OneCpuMeasurement]:
    """Each endpoint under each worker count, the server on one core, access log on."""
    results = alternating(WORKER_COUNTS, lambda workers: _one_round(image, workers, seconds), rounds)
    return [
        OneCpuMeasurement(
            endpoint, workers, connections, LoadRounds.of([loads[endpoint] for loads in results[workers]])
        )
        for workers in WORKER_COUNTS
        for endpoint, connections in ENDPOINTS.items()
    ]
