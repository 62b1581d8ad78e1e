"""The FastAPI flavor beside its base: JSON answers per second from each image's default
configuration, access log off, server on one core; the base serves the bench app's /json,
the flavor its own sample app's / (a FastAPI route returning a small JSON object)."""

from __future__ import annotations

from dataclasses import dataclass

from devtools.bench.server import ServerSpec, running
from devtools.bench.throughput import SERVER_CPU, warmed_load
from devtools.bench.wrk import LoadResult


@dataclass(frozen=True)
class FlavorThroughput:
    image: str
    path: str
    load: LoadResult


def _json_load(spec: ServerSpec, path: str, seconds: float) -> FlavorThroughput:
    with running(spec) as server:
        return FlavorThroughput(spec.image, path, warmed_load(server.url(path), seconds))


def measure_flavor_json(base: str, flavor: str, seconds: float) -> list[FlavorThroughput]:
    return [
        _json_load(ServerSpec(base, cpuset=SERVER_CPU), "/json", seconds),
        _json_load(ServerSpec(flavor, cpuset=SERVER_CPU, with_bench_app=False), "/", seconds),
    ]
