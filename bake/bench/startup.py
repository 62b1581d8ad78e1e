"""Start-up: from `docker run` to the first 200 answer, with the default workers."""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from bake.bench.server import ServerSpec, running


@dataclass(frozen=True)
class StartupResult:
    platform: str
    runs: list[float]  # seconds, in the order measured

    @property
    def median(self) -> float:
        return statistics.median(self.runs)


def measure_startup(image: str, platform: str, runs: int) -> StartupResult:
    seconds = []
    for _ in range(runs):
        with running(ServerSpec(image, platform=platform, with_bench_app=False)) as server:
            seconds.append(round(server.seconds_to_first_200, 3))
    return StartupResult(platform, seconds)
