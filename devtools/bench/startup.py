"""Start-up: from `docker run` to the first 200 answer, with the default workers; and the
image's own start against a bare Gunicorn start of the same image, run for run."""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from devtools.bench.server import ServerSpec, running

# How the original image started its server: Gunicorn directly, no launcher, no checks.
BARE_GUNICORN = ("gunicorn", "-k", "uvicorn_worker.UvicornWorker", "-c", "/gunicorn_conf.py", "main:app")


@dataclass(frozen=True)
class StartupResult:
    platform: str
    runs: list[float]  # seconds, in the order measured

    @property
    def median(self) -> float:
        return statistics.median(self.runs)


@dataclass(frozen=True)
class StartupComparison:
    platform: str
    image: list[float]  # the image's default command, /start.sh
    bare_gunicorn: list[float]  # BARE_GUNICORN, alternating with the image's runs

    @property
    def ratio(self) -> float:
        """Median of the image's start over the median of the bare start: at most 1 is the target."""
        return statistics.median(self.image) / statistics.median(self.bare_gunicorn)


def _seconds_to_first_200(spec: ServerSpec) -> float:
    with running(spec) as server:
        return round(server.seconds_to_first_200, 3)


def measure_startup(image: str, platform: str, runs: int) -> StartupResult:
    spec = ServerSpec(image, platform=platform, with_bench_app=False)
    return StartupResult(platform, [_seconds_to_first_200(spec) for _ in range(runs)])


def compare_with_bare_gunicorn(image: str, platform: str, runs: int) -> StartupComparison:
    """Alternating runs, so that a drift of the machine falls on both sides alike."""
    own = ServerSpec(image, platform=platform, with_bench_app=False)
    bare = ServerSpec(image, platform=platform, with_bench_app=False, command=BARE_GUNICORN)
    image_runs, bare_runs = [], []
    for _ in range(runs):
        image_runs.append(_seconds_to_first_200(own))
        bare_runs.append(_seconds_to_first_200(bare))
    return StartupComparison(platform, image_runs, bare_runs)
