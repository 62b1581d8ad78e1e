"""The sections of the benchmark, each a function of the run that returns its part of the
results JSON; `--only` runs some of them, in this order."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from python_on_whales import docker

from bake.core.matrix import Image, Matrix
from bake.core.naming import local_reference
from bake.core.reference import ImageReference
from bake.engine.bases import base_of
from bake.engine.build import BuildSettings, build, plan_bases
from bake.engine.platforms import engine_platform
from bake.progress import say
from devtools.bench.access_logging import log_points, measure_log_point
from devtools.bench.build_cost import OTHER_DATE, measure_build_cost, measure_family_cost, remove_bench_images
from devtools.bench.flavors import measure_flavor_json
from devtools.bench.image_size import measure_added_size
from devtools.bench.limits import LIMITS, WORKERS_PER_CORE, measure_limit
from devtools.bench.log_profile import profile_access_line
from devtools.bench.one_cpu import measure_one_cpu
from devtools.bench.original import OriginalSources, build_original
from devtools.bench.production import measure_hang_detection, measure_preload_memory, measure_recycling
from devtools.bench.rounds import LoadRounds, alternating
from devtools.bench.startup import BARE, ORIGINAL, bare_gunicorn, compare_starts, measure_startup, original_start
from devtools.bench.throughput import SWEEP_PREFIX, configurations, measure_throughput
from devtools.bench.versions import measure_versions
from devtools.local_registry import local_registry

SWEEP = (1, 2, 4, 8)
FASTAPI = "fastapi"  # the flavor the report measures beside its base
ORIGINAL_SUFFIX = "-original"  # the original image is loaded as IMAGE_NAME-original:TAG
# The image compared with the original, loaded as IMAGE_NAME-one-platform:TAG: built for the
# engine's platform alone, as the original is. On the containerd image store, `docker run` of
# an image whose index holds a second platform's content took about 15 ms longer (measured:
# the same image in both shapes, started with /bin/true).
ONE_PLATFORM_SUFFIX = "-one-platform"


@dataclass(frozen=True)
class Mode:
    seconds: float  # of each measured load, after a 1 s warm-up
    rounds: int  # alternating rounds of every comparison of loads
    startup_runs: int  # per platform
    version_startup_runs: int  # per Python version, alternating
    comparison_runs: int  # per start and set, alternating
    comparison_sets: int


FULL = Mode(seconds=5.0, rounds=5, startup_runs=5, version_startup_runs=9, comparison_runs=15, comparison_sets=3)
SHORT = Mode(seconds=2.0, rounds=3, startup_runs=3, version_startup_runs=5, comparison_runs=15, comparison_sets=3)


@dataclass(frozen=True)
class Bench:
    image: Image
    matrix: Matrix
    settings: BuildSettings
    mode: Mode
    short: bool
    original_sources: OriginalSources | None  # needed by the start-up comparison alone
    baseline: str | None = None  # a commit the whole family is also built as (the build section)

    @property
    def reference(self) -> str:
        return str(local_reference(self.image, self.settings.image_name))

    @property
    def flavor(self) -> Image:
        return replace(self.image, flavor=next(flavor for flavor in self.matrix.flavors if flavor.name == FASTAPI))


Results = dict[str, Any]


def throughput(bench: Bench) -> Results:
    say(f"bench: throughput: {len(SWEEP) + 3} configurations in {bench.mode.rounds} alternating rounds")
    measurements, memory = measure_throughput(
        bench.reference, configurations(SWEEP), bench.mode.seconds, bench.mode.rounds
    )
    return {
        "throughput": [asdict(measurement) for measurement in measurements],
        "memory": {name: asdict(reading) for name, reading in memory.items() if not name.startswith(SWEEP_PREFIX)},
    }


def access_log(bench: Bench) -> Results:
    points = log_points()
    say(f"bench: access log: {len(points)} points in {bench.mode.rounds} alternating rounds")
    by_name = {point.name: point for point in points}
    loads = alternating(
        list(by_name),
        lambda name: measure_log_point(bench.reference, by_name[name], bench.mode.seconds).load,
        bench.mode.rounds,
    )
    say("bench: access log: each step of one line")
    return {
        "access_log": [{"point": name, "load": asdict(LoadRounds.of(rounds))} for name, rounds in loads.items()],
        "access_log_profile": [asdict(step) for step in profile_access_line(bench.reference)],
    }


def flavor(bench: Bench) -> Results:
    flavor_reference = str(local_reference(bench.flavor, bench.settings.image_name))
    say(f"bench: JSON throughput: {bench.image.name} and {bench.flavor.name}")
    rows = measure_flavor_json(bench.reference, flavor_reference, bench.mode.seconds, bench.mode.rounds)
    return {"flavor_json": [asdict(row) for row in rows]}


def one_cpu(bench: Bench) -> Results:
    say("bench: one CPU: 1 and 2 workers")
    return {"one_cpu": [asdict(row) for row in measure_one_cpu(bench.reference, bench.mode.seconds, bench.mode.rounds)]}


def production(bench: Bench) -> Results:
    say("bench: production settings: PRELOAD_APP memory, MAX_REQUESTS throughput, hang to unhealthy")
    preload = [asdict(measurement) for measurement in measure_preload_memory(bench.reference)]
    recycling = measure_recycling(bench.reference, bench.mode.seconds, bench.mode.rounds)
    return {
        "preload_memory": preload,
        "recycling": asdict(recycling)
        | {"ratios": {name: asdict(ratio) for name, ratio in recycling.ratios().items()}},
        "hang_detection": asdict(measure_hang_detection(bench.reference)),
    }


def limits(bench: Bench) -> Results:
    rows = []
    for limit in LIMITS:
        for per_core in WORKERS_PER_CORE:
            say(f"bench: limits: {limit.name}, WORKERS_PER_CORE={per_core:g}")
            rows.append(asdict(measure_limit(bench.reference, limit, per_core, bench.mode.seconds)))
    return {"limits": rows}


def startup(bench: Bench) -> Results:
    rows = []
    for platform in bench.image.platforms:
        say(f"bench: start-up: {platform}")
        rows.append(asdict(measure_startup(bench.reference, platform, bench.mode.startup_runs)))
    return {"startup": rows}


def startup_comparison(bench: Bench) -> Results:
    if bench.original_sources is None:
        raise AssertionError("the options check that the original's sources are given")
    native = engine_platform()
    own = _built_for_one_platform(bench, native)
    base = base_of(own)
    original_reference = str(ImageReference(f"{bench.settings.image_name}{ORIGINAL_SUFFIX}", bench.image.tag))
    original = build_original(
        bench.original_sources,
        bench.image.tag,
        bench.image.official_base,
        base,
        original_reference,
        native,
        bench.settings.ca_bundle,
    )
    mode = bench.mode
    say(f"bench: start-up against a bare Gunicorn start and the original image: {mode.comparison_sets} sets")
    others = {BARE: bare_gunicorn(own, native), ORIGINAL: original_start(original_reference, native)}
    comparison = compare_starts(own, others, native, mode.comparison_runs, mode.comparison_sets)
    return {
        "startup_comparison": asdict(comparison)
        | {"ratios": comparison.ratios(), "original": asdict(original), "reference": own}
    }


def _built_for_one_platform(bench: Bench, platform: str) -> str:
    """The tag under test built for `platform` alone, under a name of its own (from the cache
    of the run's build): the same shape as the original, one platform in its index."""
    settings = replace(bench.settings, image_name=f"{bench.settings.image_name}{ONE_PLATFORM_SUFFIX}")
    image = replace(bench.image, platforms=(platform,))
    say(f"bench: start-up comparison: building {image.name} for {platform} alone, as the original is built")
    build([image], settings)
    return str(local_reference(image, settings.image_name))


def versions(bench: Bench) -> Results:
    """Every slim tag of the matrix whose base is at hand, built for this platform alone if it is
    not the tag under test (built already, for all its platforms)."""
    native = engine_platform()
    tags = [image for image in bench.matrix.images if image.flavor is None and image.variant == bench.image.variant]
    others = [replace(image, platforms=(native,)) for image in tags if image.tag != bench.image.tag]
    plan = plan_bases(others, bench.settings.base_mode)
    if plan.buildable:
        say(f"bench: Python versions: building {', '.join(image.tag for image in plan.buildable)} for {native}")
        build(plan.buildable, bench.settings)
    built = {bench.image.tag, *(image.tag for image in plan.buildable)}
    measured = [image for image in tags if image.tag in built]
    references = {image.tag: str(local_reference(image, bench.settings.image_name)) for image in measured}
    say(f"bench: Python versions: {', '.join(references)}")
    mode = bench.mode
    rows = measure_versions(references, native, mode.seconds, mode.rounds, mode.version_startup_runs)
    return {"versions": {"platform": native, "measured": [asdict(row) for row in rows], "left_out": plan.left_out}}


def sizes(bench: Bench) -> Results:
    image_name = bench.settings.image_name
    sized = (
        [bench.image] if bench.short else [image for image in bench.matrix.images if _is_built(image_name, image.tag)]
    )
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-registry-") as storage, local_registry(Path(storage)) as registry:
        for candidate in sized:
            say(f"bench: image size: {candidate.tag}")
            rows += [asdict(size) for size in measure_added_size(registry, image_name, candidate.tag)]
    return {"sizes": rows}


def _is_built(image_name: str, tag: str) -> bool:
    return bool(docker.image.exists(str(ImageReference(image_name, tag))))


def build_cost(bench: Bench) -> Results:
    settings, today = bench.settings, bench.settings.build_date
    plan = plan_bases([bench.image], settings.base_mode)
    costs = [asdict(cost) for cost in measure_build_cost(plan, settings, bench.image.tag)]
    dates = [today, OTHER_DATE]
    if not bench.short:
        family = plan_bases(bench.matrix.family, settings.base_mode)
        label = f"whole family ({len(family.buildable)} images buildable here)"
        for ref in (bench.baseline, None) if bench.baseline else (None,):
            costs += [asdict(cost) for cost in measure_family_cost(family, settings, label, ref)]
        remove_bench_images(family, dates)
    remove_bench_images(plan, dates)
    return {"build": costs}


SECTIONS: dict[str, Callable[[Bench], Results]] = {
    "throughput": throughput,
    "access-log": access_log,
    "flavor": flavor,
    "one-cpu": one_cpu,
    "production": production,
    "limits": limits,
    "startup": startup,
    "startup-comparison": startup_comparison,
    "versions": versions,
    "sizes": sizes,
    "build": build_cost,
}
# What each section needs built besides the tag for this platform.
NEEDS_EVERY_PLATFORM = ("startup", "sizes")
NEEDS_FLAVOR = ("flavor",)
NEEDS_ORIGINAL = ("startup-comparison",)
