"""`python -m bake.bench [--short] [TAG]`: measure, then write docs/benchmarks.{json,md,png}."""

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

from bake.bench.access_logging import log_points, measure_log_point
from bake.bench.build_cost import BENCH_IMAGE_NAME, OTHER_DATE, measure_build_cost, remove_bench_images, timed_bake
from bake.bench.chart import write_throughput_chart
from bake.bench.flavors import measure_flavor_json
from bake.bench.image_size import measure_added_size
from bake.bench.limits import LIMITS, WORKERS_PER_CORE, measure_limit
from bake.bench.log_profile import profile_access_line
from bake.bench.machine import describe_machine
from bake.bench.one_cpu import measure_one_cpu
from bake.bench.production import measure_hang_detection, measure_preload_memory, measure_recycling
from bake.bench.report import write_report
from bake.bench.server import ServerError
from bake.bench.startup import compare_with_bare_gunicorn, measure_startup
from bake.bench.throughput import configurations, measure_configuration
from bake.bench.wrk import CONNECTIONS, LoadError
from bake.build import BuildSettings, build, plan_bases
from bake.ca_bundle import find_ca_bundle
from bake.local_registry import local_registry
from bake.matrix import REPO_ROOT, load_matrix
from bake.platforms import engine_platform
from bake.reference import ImageReference, local_reference
from bake.reporting import reporting_errors
from bake.selection import select
from bake.server_probes import ServerReadError
from bake.settings import settings_from_environment

DOCS = REPO_ROOT / "docs"
SWEEP = (1, 2, 4, 8)
FULL = {"seconds": 10.0, "startup_runs": 5, "comparison_runs": 15}
SHORT = {"seconds": 3.0, "startup_runs": 3, "comparison_runs": 15}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bake.bench", description=__doc__)
    parser.add_argument("tag", nargs="?", help="the tag measured (default: the default version's slim tag)")
    parser.add_argument("--short", action="store_true", help="shorter loads, fewer runs, no cold matrix build")
    parser.add_argument("--output", type=Path, default=DOCS, help="where the report goes (default docs/)")
    return parser


FASTAPI = "fastapi"  # the flavor the report measures beside its base


def _log(message: str) -> None:
    print(f"bench: {message}", flush=True)


def run_benchmarks(tag: str | None, short: bool) -> dict[str, Any]:
    mode = SHORT if short else FULL
    seconds, startup_runs = float(mode["seconds"]), int(mode["startup_runs"])
    run_settings = settings_from_environment()
    today, image_name = run_settings.date_tag, run_settings.image_name
    settings = BuildSettings.of(run_settings, find_ca_bundle())
    matrix = load_matrix(run_settings.build_date)
    (image,) = select(matrix, [tag]) if tag else [i for i in matrix.images if i.is_default and i.variant == "slim"]
    fastapi = replace(image, flavor=next(flavor for flavor in matrix.flavors if flavor.name == FASTAPI))
    _log(f"building {image.name} and {fastapi.name} (what the measurements run)")
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
        _log(f"throughput: {configuration.name}")
        measurements, memory = measure_configuration(reference, configuration, seconds)
        results["throughput"] += [asdict(measurement) for measurement in measurements]
        if not configuration.name.startswith("WEB_CONCURRENCY="):
            results["memory"][configuration.name] = asdict(memory)
    results["access_log"] = []
    for point in log_points():
        _log(f"access log: {point.name}")
        results["access_log"].append(asdict(measure_log_point(reference, point, seconds)))
    _log("access log: each step of one line")
    results["access_log_profile"] = [asdict(step) for step in profile_access_line(reference)]
    _log(f"JSON throughput: {image.name} and {fastapi.name}")
    flavor_reference = str(local_reference(fastapi, image_name))
    results["flavor_json"] = [asdict(row) for row in measure_flavor_json(reference, flavor_reference, seconds)]
    _log("one CPU: 1 and 2 workers")
    results["one_cpu"] = [asdict(measurement) for measurement in measure_one_cpu(reference, seconds)]
    _log("production settings: PRELOAD_APP memory, MAX_REQUESTS throughput, hang to unhealthy")
    results["preload_memory"] = [asdict(measurement) for measurement in measure_preload_memory(reference)]
    recycling = measure_recycling(reference, seconds)
    results["recycling"] = asdict(recycling) | {"ratios": recycling.ratios()}
    results["hang_detection"] = asdict(measure_hang_detection(reference))
    results["limits"] = []
    for limit in LIMITS:
        for per_core in WORKERS_PER_CORE:
            _log(f"limits: {limit.name}, WORKERS_PER_CORE={per_core:g}")
            results["limits"].append(asdict(measure_limit(reference, limit, per_core, seconds)))
    results["startup"] = []
    for platform in image.platforms:
        _log(f"start-up: {platform}")
        results["startup"].append(asdict(measure_startup(reference, platform, startup_runs)))
    native = engine_platform()
    _log(f"start-up against a bare Gunicorn start: {native}")
    comparison = compare_with_bare_gunicorn(reference, native, int(mode["comparison_runs"]))
    results["startup_vs_bare"] = asdict(comparison) | {"ratio": comparison.ratio}

    sized = [image] if short else [candidate for candidate in matrix.images if _is_built(image_name, candidate.tag)]
    results["sizes"] = []
    with tempfile.TemporaryDirectory(prefix="bench-registry-") as storage, local_registry(Path(storage)) as registry:
        for candidate in sized:
            _log(f"image size: {candidate.tag}")
            results["sizes"] += [asdict(size) for size in measure_added_size(registry, image_name, candidate.tag)]

    plan = plan_bases([image], settings.base_mode)
    results["build"] = [asdict(cost) for cost in measure_build_cost(plan, settings, image.tag)]
    dates = [today, OTHER_DATE]
    if not short:
        matrix_plan = plan_bases(matrix.images, settings.base_mode)
        bench_settings = BuildSettings(BENCH_IMAGE_NAME, today, settings.base_mode, settings.ca_bundle)
        label = f"matrix ({len(matrix_plan.buildable)} tags buildable here): cold (no cache)"
        results["build"].append(asdict(timed_bake(label, matrix_plan, bench_settings, use_cache=False)))
        remove_bench_images(matrix_plan, dates)
    remove_bench_images(plan, dates)
    return results


def _is_built(image_name: str, tag: str) -> bool:
    return bool(docker.image.exists(str(ImageReference(image_name, tag))))


def _run(args: argparse.Namespace) -> int:
    results = run_benchmarks(args.tag, args.short)
    args.output.mkdir(parents=True, exist_ok=True)
    (args.output / "benchmarks.json").write_text(json.dumps(results, indent=2) + "\n")
    write_throughput_chart(results, args.output / "benchmarks-throughput.png")
    write_report(results, args.output / "benchmarks.md")
    _log(f"wrote {args.output / 'benchmarks.md'}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    os.chdir(REPO_ROOT)  # bake resolves the build context against the working directory
    return reporting_errors(lambda: _run(args), (LoadError, ServerError, ServerReadError))


if __name__ == "__main__":
    sys.exit(main())
