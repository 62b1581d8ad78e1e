"""The FastAPI flavor beside its base: JSON answers per second from each image's default
configuration, access log off, server on one core, in alternating rounds; the base serves
the bench app's /json, the flavor its own sample app's / (a FastAPI route returning a small
JSON object)."""

from __future__ import annotations

from dataclasses import dataclass

from devtools.bench.rounds import LoadRounds, alternating
from devtools.bench.server import ServerSpec, running
from devtools.bench.throughput import SERVER_CPU, warmed_load
from devtools.bench.wrk import LoadResult


@dataclass(frozen=True)
class FlavorThroughput:
    image: str
    path: str
    load: LoadRounds


def _json_load(spec: ServerSpec, path: str, seconds: float) -> LoadResult:
    with running(spec) as server:
        return warmed_load(server.url(path), seconds)


def measure_flavor_json(base: str, flavor: str, seconds: float, rounds: int) -> list[FlavorThroughput]:
    """The base first, then the flavor."""
    specs = {
        base: (ServerSpec(base, cpuset=SERVER_CPU), "/json"),
        flavor: (ServerSpec(flavor, cpuset=SERVER_CPU, with_bench_app=False), "/"),
    }
    results = alternating(list(specs), lambda image: _json_load(*specs[image], seconds), rounds)
    return [FlavorThroughput(image, path, LoadRounds.of(results[image])) for image, (_, path) in specs.items()]
