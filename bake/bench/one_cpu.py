"""How many workers on one CPU: one against two (what the "at least two workers" rule
starts), with the access log on as users run it, on the sample app (/) and on a handler
that blocks its event loop with 5 ms of CPU work (/cpu)."""

from __future__ import annotations

from dataclasses import dataclass

from bake.bench.server import ServerSpec, running
from bake.bench.throughput import LOAD_CPU, SERVER_CPU, WARM_UP_SECONDS
from bake.bench.wrk import LoadResult, run_load

WORKER_COUNTS = (1, 2)
ENDPOINTS = ("/", "/cpu")


@dataclass(frozen=True)
class OneCpuMeasurement:
    endpoint: str
    workers: int
    load: LoadResult


def measure_one_cpu(image: str, seconds: float) -> list[OneCpuMeasurement]:
    """Each endpoint under each worker count, the server on one core, access log on."""
    measurements = []
    for workers in WORKER_COUNTS:
        spec = ServerSpec(image, {"WEB_CONCURRENCY": str(workers)}, cpuset=SERVER_CPU, access_log_off=False)
        with running(spec) as server:
            for endpoint in ENDPOINTS:
                run_load(server.url(endpoint), WARM_UP_SECONDS, LOAD_CPU)
                measurements.append(
                    OneCpuMeasurement(endpoint, workers, run_load(server.url(endpoint), seconds, LOAD_CPU))
                )
    return measurements
