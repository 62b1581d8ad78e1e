"""What the production settings cost: PSS per worker with and without PRELOAD_APP for an
application that imports something sizeable; requests/s with MAX_REQUESTS=1000 against
without; and how long the image's HEALTHCHECK takes to call a hung application unhealthy."""

from __future__ import annotations

import contextlib
import re
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import requests
from python_on_whales import docker

from devtools.bench.memory import Footprint, read_memory
from devtools.bench.rounds import Spread, alternating, paired_ratios
from devtools.bench.server import ServerError, ServerSpec, running
from devtools.bench.throughput import LOAD_CPU, SERVER_CPU, WARM_UP_SECONDS, warmed_load
from devtools.bench.wrk import CONNECTIONS, run_load

PRELOAD_WORKERS = 4
SIZEABLE_APP = {"APP_MODULE": "sizeable_app:app"}
RECYCLING = {"MAX_REQUESTS": "1000", "MAX_REQUESTS_JITTER": "100"}
DEFAULT = "default"
RECYCLING_NAME = "MAX_REQUESTS=1000 MAX_REQUESTS_JITTER=100"
# A replaced worker forks from the manager; with preload it need not import the application again.
RECYCLING_CONFIGURATIONS = {
    DEFAULT: {},
    RECYCLING_NAME: RECYCLING,
    f"{RECYCLING_NAME} PRELOAD_APP=true": {**RECYCLING, "PRELOAD_APP": "true"},
}
RECYCLED = re.compile(r"Recycled after (\d+) requests \(limit (\d+)\)")
HEALTH_DEADLINE_SECONDS = 180.0


@dataclass(frozen=True)
class PreloadMemory:
    preload: bool
    workers: int
    worker: Footprint
    manager: Footprint


def measure_preload_memory(image: str) -> list[PreloadMemory]:
    """One worker's and the manager's memory, PRELOAD_APP off and on, after some requests."""
    measurements = []
    for preload in (False, True):
        environment = {**SIZEABLE_APP, "WEB_CONCURRENCY": str(PRELOAD_WORKERS), "PRELOAD_APP": str(preload).lower()}
        with running(ServerSpec(image, environment, cpuset=SERVER_CPU)) as server:
            run_load(server.url("/"), WARM_UP_SECONDS, LOAD_CPU)
            memory = read_memory(server)
        if memory.worker is None:
            raise ServerError("no worker found to measure")
        measurements.append(PreloadMemory(preload, PRELOAD_WORKERS, memory.worker, memory.manager))
    return measurements


@dataclass(frozen=True)
class RecyclingThroughput:
    rps: dict[str, list[float]]  # configuration: requests/s of each round
    # configuration: how many requests past its own limit each recycled worker took, every round
    past_limit: dict[str, list[int]]
    connections: int = CONNECTIONS

    def ratios(self) -> dict[str, Spread]:
        """Each configuration's requests/s over the default's, round by round."""
        return {name: paired_ratios(runs, self.rps[DEFAULT]) for name, runs in self.rps.items()}


def requests_past_limit(logs: str) -> list[int]:
    """Each recycled worker's requests beyond its own limit, from the line it logs when drained."""
    return [int(served) - int(limit) for served, limit in RECYCLED.findall(logs)]


def _measure_round(image: str, environment: dict[str, str], seconds: float) -> tuple[float, list[int]]:
    with running(ServerSpec(image, environment, cpuset=SERVER_CPU, access_log_off=False)) as server:
        rps = warmed_load(server.url("/"), seconds).requests_per_second
        return rps, requests_past_limit(server.logs())


def measure_recycling(image: str, seconds: float, rounds: int) -> RecyclingThroughput:
    """The default configuration (access log on) with and without MAX_REQUESTS, alternated."""
    results = alternating(
        list(RECYCLING_CONFIGURATIONS),
        lambda name: _measure_round(image, RECYCLING_CONFIGURATIONS[name], seconds),
        rounds,
    )
    rps = {name: [round_rps for round_rps, _ in name_rounds] for name, name_rounds in results.items()}
    past_limit = {name: [past for _, pasts in name_rounds for past in pasts] for name, name_rounds in results.items()}
    return RecyclingThroughput(rps, past_limit)


@dataclass(frozen=True)
class HangDetection:
    seconds_to_healthy: float
    seconds_from_hang_to_unhealthy: float


def _health_changes_to(container_id: str, wanted: str, since: datetime) -> datetime:
    """When the engine reported the container's health as `wanted`, at or after `since`."""
    events = docker.system.events(
        since=since,
        until=since + timedelta(seconds=HEALTH_DEADLINE_SECONDS),
        filters={"container": container_id, "event": "health_status"},
    )
    for event in events:
        if event.action == f"health_status: {wanted}" and event.time is not None:
            return event.time
    raise ServerError(f"the container was not {wanted} within {HEALTH_DEADLINE_SECONDS:.0f} s")


def measure_hang_detection(image: str) -> HangDetection:
    """One worker, the image's own HEALTHCHECK with HEALTHCHECK_PATH=/: from the start to
    `healthy`, then from a request that blocks the event loop to `unhealthy` (times are the
    engine's own, from its events)."""
    spec = ServerSpec(image, {"WEB_CONCURRENCY": "1", "HEALTHCHECK_PATH": "/"})
    with running(spec) as server:
        container = docker.container.inspect(server.container.id)
        created = container.created
        healthy = _health_changes_to(container.id, "healthy", created)
        hung = datetime.now(UTC)
        threading.Thread(target=_hang, args=(server.url("/hang"),), daemon=True).start()
        unhealthy = _health_changes_to(container.id, "unhealthy", hung)
    return HangDetection((healthy - created).total_seconds(), (unhealthy - hung).total_seconds())


def _hang(url: str) -> None:
    with contextlib.suppress(requests.RequestException):  # the container goes while it waits
        requests.get(url, timeout=HEALTH_DEADLINE_SECONDS)
