"""Auto-tuning under CPU limits: the worker count the image picks, what a rule reading the
host's CPU count would pick, and the throughput of each."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from devtools.bench.server import ServerSpec, running
from devtools.bench.throughput import SERVER_CPU, warmed_load
from devtools.bench.wrk import LoadResult

JSON_PATH = "/json"
# 1 is the default; 4 makes a difference between the two rules visible on a small host.
WORKERS_PER_CORE = (1.0, 4.0)


@dataclass(frozen=True)
class Limit:
    name: str
    cpus: float | None = None
    cpuset: str | None = None

    def spec(self, image: str, environment: Mapping[str, str], pinned: bool) -> ServerSpec:
        """Under load the server stays off wrk's core: a cpuset limit names the server's core instead."""
        return ServerSpec(image, environment, cpus=self.cpus, cpuset=SERVER_CPU if pinned else self.cpuset)


LIMITS = (Limit("--cpus 1", cpus=1.0), Limit("--cpus 0.5", cpus=0.5), Limit("--cpuset-cpus 0", cpuset="0"))


def host_rule_workers(workers_per_core: float, host_cpus: int) -> int:
    """What a rule reading the host's CPU count (os.cpu_count()) starts."""
    return max(2, int(workers_per_core * host_cpus))


@dataclass(frozen=True)
class LimitResult:
    limit: str
    workers_per_core: float
    cpus_seen: int
    workers: int
    host_rule_workers: int
    rule: str
    load: LoadResult | None = None  # with the image's own count
    host_rule_load: LoadResult | None = None  # with the host rule's count, where it differs


def _load(image: str, limit: Limit, environment: Mapping[str, str], seconds: float) -> LoadResult:
    with running(limit.spec(image, environment, pinned=True)) as server:
        return warmed_load(server.url(JSON_PATH), seconds)


def measure_limit(image: str, limit: Limit, workers_per_core: float, seconds: float) -> LimitResult:
    environment = {"WORKERS_PER_CORE": f"{workers_per_core:g}"}
    with running(limit.spec(image, environment, pinned=False)) as server:  # the limit alone decides
        plan = server.settings()["workers"]
    host_rule = host_rule_workers(workers_per_core, os.cpu_count() or 1)
    own_load = _load(image, limit, environment, seconds)
    host_load = None
    if host_rule != plan["count"]:
        host_load = _load(image, limit, {"WEB_CONCURRENCY": str(host_rule)}, seconds)
    return LimitResult(
        limit.name, workers_per_core, plan["cpus"], plan["count"], host_rule, plan["rule"], own_load, host_load
    )
