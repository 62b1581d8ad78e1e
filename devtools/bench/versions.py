"""Each Python version of the matrix side by side, on this machine's platform: requests/s of
the sample app under the default configuration (access log off, the server on its core) in
alternating rounds, and `docker run` to the first 200 in alternating runs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from devtools.bench.rounds import LoadRounds, Spread, alternating
from devtools.bench.server import ServerSpec, running
from devtools.bench.startup import seconds_to_first_200
from devtools.bench.throughput import ENDPOINTS, SERVER_CPU, warmed_load
from devtools.bench.wrk import LoadResult

SAMPLE_APP = "sample app (/)"
PYTHON_VERSION = "import platform; print(platform.python_version())"


@dataclass(frozen=True)
class VersionResult:
    tag: str
    python: str  # the interpreter's own version, as the image reports it
    load: LoadRounds
    startup_runs: list[float]  # seconds, in the order measured
    startup: Spread


def _load_round(reference: str, seconds: float) -> tuple[str, LoadResult]:
    with running(ServerSpec(reference, cpuset=SERVER_CPU)) as server:
        return server.python(PYTHON_VERSION).strip(), warmed_load(server.url(ENDPOINTS[SAMPLE_APP]), seconds)


def measure_versions(
    references: Mapping[str, str], platform: str, seconds: float, rounds: int, startup_runs: int
) -> list[VersionResult]:
    """`references`: each tag's local image, in the order of the table."""
    tags = list(references)
    loads = alternating(tags, lambda tag: _load_round(references[tag], seconds), rounds)
    starts = alternating(
        tags,
        lambda tag: seconds_to_first_200(ServerSpec(references[tag], platform=platform, with_bench_app=False)),
        startup_runs,
    )
    return [
        VersionResult(
            tag, loads[tag][0][0], LoadRounds.of([load for _, load in loads[tag]]), starts[tag], Spread.of(starts[tag])
        )
        for tag in tags
    ]
