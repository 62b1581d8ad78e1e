"""`python -m devtools.bench [--short] [TAG]`: measure, then write docs/benchmarks.{json,md,png}."""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from python_on_whales import docker

from bake.core.ca_bundle import find_ca_bundle
from bake.core.matrix import load_matrix
from bake.core.naming import local_reference
from bake.core.reference import ImageReference
from bake.core.selection import select
from bake.core.settings import Settings, add_setting_options, environment_of, settings_of
from bake.engine.build import BuildSettings, build, plan_bases
from bake.engine.failures import reporting_failures
from bake.engine.platforms import engine_platform
from bake.options import OptionParser
from bake.paths import DOCS, REPO_ROOT
from bake.progress import say
from devtools.bench.access_logging import log_points, measure_log_point
from devtools.bench.build_cost import OTHER_DATE, measure_build_cost, measure_family_cost, remove_bench_images
from devtools.bench.flavors import measure_flavor_json
from devtools.bench.image_size import measure_added_size
from devtools.bench.limits import LIMITS, WORKERS_PER_CORE, measure_limit
from devtools.bench.log_profile import profile_access_line
from devtools.bench.machine import describe_machine
from devtools.bench.one_cpu import measure_one_cpu
from devtools.bench.production import measure_hang_detection, measure_preload_memory, measure_recycling
from devtools.bench.report import write_report
from devtools.bench.startup import compare_with_bare_gunicorn, measure_startup
from devtools.bench.throughput import configurations, measure_configuration
from devtools.bench.wrk import CONNECTIONS
from devtools.local_registry import local_registry

SWEEP = (1, 2, 4, 8)
FULL = {"seconds": 10.0, "startup_runs": 5, "comparison_runs": 15}
SHORT = {"seconds": 3.0, "startup_runs": 3, "comparison_runs": 15}


def parser() -> OptionParser:
    parser = OptionParser("python -m devtools.bench", __doc__)
    parser.add_argument("tag", nargs="?", help="the tag measured (default: the default version's slim tag)")
    parser.add_argument("--short", action="store_true", help="shorter loads, fewer runs, no cold matrix build")
    parser.add_argument("--output", type=Path, default=DOCS, help="where the report goes (default docs/)")
    parser.add_argument(
        "--baseline",
        metavar="REF",
        help="a commit whose build files (images/, common/, docker-bake.hcl) the whole family is also built with, "
        "cold and after a change to common/, beside this tree's (not with --short)",
    )
    add_setting_options(parser)
    return parser


FASTAPI = "fastapi"  # the flavor the report measures beside its base


def run_benchmarks(tag: str | None, short: bool, run_settings: Settings, baseline: str | None = None) -> dict[str, Any]:
    mode = SHORT if short else FULL
    seconds, startup_runs = float(mode["seconds"]), int(mode["startup_runs"])
    today, image_name = run_settings.date_tag, run_settings.image_name
    settings = BuildSettings.of(run_settings, find_ca_bundle())
    matrix = load_matrix(run_settings.build_date)
    (image,) = select(matrix, [tag]) if tag else [i for i in matrix.images if i.is_default and i.variant == "slim"]
    fastapi = replace(image, flavor=next(flavor for flavor in matrix.flavors if flavor.name == FASTAPI))
    say(f"bench: building {image.name} and {fastapi.name} (what the measurements run)")
    build([image, fastapi], settings)
    reference = str(local_reference(image, image_name))

    results: dict[str, Any] = {
        "command": "nox -s bench" + (" -- --short" if short else ""),
        "date": today,
        "short": short,
        "tag": image.tag,
        "seconds_per_load": seconds,
        "connections": CONNECTIONS,
        "machine": asdict(describe_machine(REPO_ROOT)),
        "throughput": [],
        "memory": {},
    }
    for configuration in configurations(SWEEP):
        say(f"bench: throughput: {configuration.name}")
        measurements, memory = measure_configuration(reference, configuration, seconds)
        results["throughput"] += [asdict(measurement) for measurement in measurements]
        if not configuration.name.startswith("WEB_CONCURRENCY="):
            results["memory"][configuration.name] = asdict(memory)
    results["access_log"] = []
    for point in log_points():
        say(f"bench: access log: {point.name}")
        results["access_log"].append(asdict(measure_log_point(reference, point, seconds)))
    say("bench: access log: each step of one line")
    results["access_log_profile"] = [asdict(step) for step in profile_access_line(reference)]
    say(f"bench: JSON throughput: {image.name} and {fastapi.name}")
    flavor_reference = str(local_reference(fastapi, image_name))
    results["flavor_json"] = [asdict(row) for row in measure_flavor_json(reference, flavor_reference, seconds)]
    say("bench: one CPU: 1 and 2 workers")
    results["one_cpu"] = [asdict(measurement) for measurement in measure_one_cpu(reference, seconds)]
    say("bench: production settings: PRELOAD_APP memory, MAX_REQUESTS throughput, hang to unhealthy")
    results["preload_memory"] = [asdict(measurement) for measurement in measure_preload_memory(reference)]
    recycling = measure_recycling(reference, seconds)
    results["recycling"] = asdict(recycling) | {"ratios": recycling.ratios()}
    results["hang_detection"] = asdict(measure_hang_detection(reference))
    results["limits"] = []
    for limit in LIMITS:
        for per_core in WORKERS_PER_CORE:
            say(f"bench: limits: {limit.name}, WORKERS_PER_CORE={per_core:g}")
            results["limits"].append(asdict(measure_limit(reference, limit, per_core, seconds)))
    results["startup"] = []
    for platform in image.platforms:
        say(f"bench: start-up: {platform}")
        results["startup"].append(asdict(measure_startup(reference, platform, startup_runs)))
    native = engine_platform()
    say(f"bench: start-up against a bare Gunicorn start: {native}")
    comparison = compare_with_bare_gunicorn(reference, native, int(mode["comparison_runs"]))
    results["startup_vs_bare"] = asdict(comparison) | {"ratio": comparison.ratio}

    sized = [image] if short else [candidate for candidate in matrix.images if _is_built(image_name, candidate.tag)]
    results["sizes"] = []
    with tempfile.TemporaryDirectory(prefix="bench-registry-") as storage, local_registry(Path(storage)) as registry:
        for candidate in sized:
            say(f"bench: image size: {candidate.tag}")
            results["sizes"] += [asdict(size) for size in measure_added_size(registry, image_name, candidate.tag)]

    plan = plan_bases([image], settings.base_mode)
    results["build"] = [asdict(cost) for cost in measure_build_cost(plan, settings, image.tag)]
    dates = [today, OTHER_DATE]
    if not short:
        family = plan_bases(matrix.family, settings.base_mode)
        label = f"whole family ({len(family.buildable)} images buildable here)"
        for ref in (baseline, None) if baseline else (None,):
            results["build"] += [asdict(cost) for cost in measure_family_cost(family, settings, label, ref)]
        remove_bench_images(family, dates)
    remove_bench_images(plan, dates)
    return results


def _is_built(image_name: str, tag: str) -> bool:
    return bool(docker.image.exists(str(ImageReference(image_name, tag))))


def _run(args: argparse.Namespace, settings: Settings) -> int:
    results = run_benchmarks(args.tag, args.short, settings, args.baseline)
    args.output.mkdir(parents=True, exist_ok=True)
    (args.output / "benchmarks.json").write_text(json.dumps(results, indent=2) + "\n")
    from devtools.bench.chart import write_throughput_chart  # matplotlib: not needed to check the options

    write_throughput_chart(results, args.output / "benchmarks-throughput.png")
    write_report(results, args.output / "benchmarks.md")
    say(f"bench: wrote {args.output / 'benchmarks.md'}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    def run() -> int:
        args = parser().parse(sys.argv[1:] if argv is None else argv)
        settings = settings_of(args)
        os.environ.update(environment_of(settings))  # for the commands the bench runs
        os.chdir(REPO_ROOT)  # bake resolves the build context against the working directory
        return _run(args, settings)

    return reporting_failures(run)


if __name__ == "__main__":
    sys.exit(main())
