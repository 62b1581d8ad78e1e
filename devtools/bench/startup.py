"""Start-up: from `docker run` to the first 200 answer, with the default workers; and the
image's own start against other starts (a bare Gunicorn start of the same image, the original
image on the same base), run for run, in separate sets."""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from dataclasses import dataclass

from devtools.bench.rounds import alternating
from devtools.bench.server import ServerSpec, running

# How the original image started its server: Gunicorn directly, no launcher, no checks.
BARE_GUNICORN = ("gunicorn", "-k", "uvicorn_worker.UvicornWorker", "-c", "/gunicorn_conf.py", "main:app")
OWN = "image"  # the image's default command, /start.sh
BARE = "bare_gunicorn"  # BARE_GUNICORN in the same image
ORIGINAL = "original"  # the original image's default command


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
    runs_per_set: int
    sets: list[dict[str, list[float]]]  # each set: every start's seconds, the starts alternating

    def ratios(self) -> dict[str, list[float]]:
        """Per other start, each set's median of the image's start over the median of that one's."""
        others = [name for name in self.sets[0] if name != OWN]
        return {
            other: [statistics.median(runs[OWN]) / statistics.median(runs[other]) for runs in self.sets]
            for other in others
        }


def seconds_to_first_200(spec: ServerSpec) -> float:
    with running(spec) as server:
        return round(server.seconds_to_first_200, 3)


def measure_startup(image: str, platform: str, runs: int) -> StartupResult:
    spec = ServerSpec(image, platform=platform, with_bench_app=False)
    return StartupResult(platform, [seconds_to_first_200(spec) for _ in range(runs)])


def compare_starts(
    image: str, others: Mapping[str, ServerSpec], platform: str, runs: int, sets: int
) -> StartupComparison:
    """`sets` separate sets of `runs` starts of each, alternating (the image, then each of
    `others`), so that a drift of the machine falls on every start alike."""
    starts = {OWN: ServerSpec(image, platform=platform, with_bench_app=False), **others}
    return StartupComparison(
        platform,
        runs,
        [alternating(list(starts), lambda name: seconds_to_first_200(starts[name]), runs) for _ in range(sets)],
    )


def bare_gunicorn(image: str, platform: str) -> ServerSpec:
    return ServerSpec(image, platform=platform, with_bench_app=False, command=BARE_GUNICORN)


def original_start(original: str, platform: str) -> ServerSpec:
    """The original image as users run it: its own app and command; the same BIND and
    ACCESS_LOG (off) as the image's start, which its gunicorn_conf.py reads too."""
    return ServerSpec(original, platform=platform, with_bench_app=False)
