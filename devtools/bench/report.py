"""docs/benchmarks.md, rendered from the results JSON the benchmark writes beside it.

The report holds no number the JSON does not: a unit test renders the committed JSON and
compares it with the committed report."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

from bake.engine.rendering import template_environment
from devtools.bench.access_logging import LOG_OFF
from devtools.bench.production import RECYCLING_NAME
from devtools.bench.throughput import DEFAULT, PLAIN_UVICORN, UVICORN_MANAGER

Results = dict[str, Any]

# The targets.
DEFAULT_SHARE_OF_BEST = 0.95
WARM_SHARE_OF_COLD = 0.05
SLIM_ADDED_COMPRESSED_MB = 30
# The whole family (every tag and flavor buildable here, bases present) on a 2-core machine.
FAMILY_COLD_MINUTES = 12
FAMILY_COMMON_CHANGE_MINUTES = 5
BATCHED_OVER_LINE_BY_LINE = 1.6
BATCHED_SHARE_OF_LOG_OFF = 0.6
DEV_NULL_SHARE_OF_LOG_OFF = 0.85
RECYCLING_SHARE_OF_DEFAULT = 0.97


def _rps(results: Results, configuration: str, endpoint: str) -> float:
    for point in results["throughput"]:
        if point["configuration"] == configuration and point["endpoint"] == endpoint:
            return float(point["load"]["requests_per_second"])
    raise KeyError(f"no measurement of {configuration} on {endpoint}")


def _build_seconds(results: Results, suffix: str) -> dict[str, Any]:
    for cost in results["build"]:
        if cost["scenario"].endswith(suffix):
            return dict(cost)
    raise KeyError(f"no build scenario ending in {suffix!r}")


def summarize(results: Results) -> dict[str, Any]:
    """The derived figures and the verdict on each target."""
    endpoints = sorted({point["endpoint"] for point in results["throughput"]}, reverse=True)
    sweep = [point for point in results["throughput"] if point["configuration"].startswith("WEB_CONCURRENCY=")]
    per_endpoint = {}
    for endpoint in endpoints:
        best = max(
            (point for point in sweep if point["endpoint"] == endpoint), key=lambda p: p["load"]["requests_per_second"]
        )
        default = _rps(results, DEFAULT, endpoint)
        best_rps = float(best["load"]["requests_per_second"])
        per_endpoint[endpoint] = {
            "default": default,
            "best": best["configuration"],
            "best_rps": best_rps,
            "default_share": default / best_rps,
            "uvicorn_over_gunicorn": _rps(results, UVICORN_MANAGER, endpoint) / default,
            "default_over_plain": default / _rps(results, PLAIN_UVICORN, endpoint),
        }
    cold = _build_seconds(results, "cold (no cache)")
    warm = _build_seconds(results, "warm, no change")
    date_only = _build_seconds(results, "date-only change")
    cpus_one = [row for row in results["limits"] if row["limit"] == "--cpus 1"]
    slim_sizes = [size for size in results["sizes"] if size["tag"].endswith("-slim")]
    targets = [
        (
            f"default configuration >= {DEFAULT_SHARE_OF_BEST:.0%} of the best fixed worker count",
            all(figures["default_share"] >= DEFAULT_SHARE_OF_BEST for figures in per_endpoint.values()),
            ", ".join(f"{name}: {figures['default_share']:.1%}" for name, figures in per_endpoint.items()),
        ),
        (
            "under --cpus 1 the automatic worker count follows the limit, not the host",
            bool(cpus_one) and all(row["cpus_seen"] == 1 for row in cpus_one),
            "; ".join(
                f"WORKERS_PER_CORE={row['workers_per_core']:g}: {row['cpus_seen']} CPU seen, "
                f"{row['workers']} workers (host rule: {row['host_rule_workers']})"
                for row in cpus_one
            ),
        ),
        (
            f"warm rebuild with no change <= {WARM_SHARE_OF_COLD:.0%} of the cold build",
            warm["seconds"] <= WARM_SHARE_OF_COLD * cold["seconds"],
            f"{warm['seconds']} s against {cold['seconds']} s ({warm['seconds'] / cold['seconds']:.1%})",
        ),
        (
            "a date-only change rebuilds no layer",
            date_only["layers_built"] == 0,
            f"{date_only['layers_built']} of {date_only['layer_steps']} layer steps ran",
        ),
        (
            f"layers a slim tag adds over its base <= {SLIM_ADDED_COMPRESSED_MB} MB compressed",
            bool(slim_sizes) and all(size["compressed"] <= SLIM_ADDED_COMPRESSED_MB * 10**6 for size in slim_sizes),
            ", ".join(f"{size['tag']} {size['platform']}: {size['compressed'] / 10**6:.1f} MB" for size in slim_sizes),
        ),
    ]
    if "startup_vs_bare" in results:
        ratio = float(results["startup_vs_bare"]["ratio"])
        targets.append(
            (
                "start-up from `docker run` to the first 200 <= a bare Gunicorn start of the same image",
                ratio <= 1.0,
                f"ratio of medians {ratio:.3f}",
            )
        )
    if "access_log" in results:
        targets += _access_log_targets(results["access_log"])
    targets += _family_targets(results["build"])
    if "recycling" in results:
        ratio = float(results["recycling"]["ratios"][RECYCLING_NAME])
        targets.append(
            (
                f"{RECYCLING_NAME} >= {RECYCLING_SHARE_OF_DEFAULT}x the default's requests/s",
                ratio >= RECYCLING_SHARE_OF_DEFAULT,
                f"{ratio:.3f}x",
            )
        )
    startup = {row["platform"]: statistics.median(row["runs"]) for row in results["startup"]}
    return {"endpoints": per_endpoint, "targets": targets, "startup_median": startup}


def _family_targets(costs: list[dict[str, Any]]) -> list[tuple[str, bool, str]]:
    """The whole family's builds as this tree makes them (a baseline's rows say `, as REF`)."""
    family = [cost for cost in costs if cost["scenario"].startswith("whole family") and ", as " not in cost["scenario"]]
    targets = []
    for suffix, minutes in (
        ("cold (no cache)", FAMILY_COLD_MINUTES),
        ("change in common/ only", FAMILY_COMMON_CHANGE_MINUTES),
    ):
        for cost in [cost for cost in family if cost["scenario"].endswith(suffix)]:
            seconds = float(cost["seconds"])
            targets.append(
                (f"whole family, {suffix} <= {minutes} min", seconds <= minutes * 60, f"{seconds / 60:.1f} min")
            )
    return targets


def access_log_ratios(points: list[dict[str, Any]]) -> dict[str, float]:
    """Each point's requests/s over the log-off point's, from the same run."""
    rates = {point["point"]: float(point["load"]["requests_per_second"]) for point in points}
    return {name: rate / rates[LOG_OFF] for name, rate in rates.items()}


def access_log_costs(points: list[dict[str, Any]]) -> dict[str, float]:
    """Microseconds each request spends on its access line (the default configuration, line by
    line and batched), and the engine's share of the line-by-line cost, against the log off."""
    seconds = {point["point"]: 1 / float(point["load"]["requests_per_second"]) for point in points}
    off = seconds[LOG_OFF]

    def default(driver: str, way: str) -> float:
        return seconds[f"default, {driver}, {way}"]

    return {
        "line_by_line": (default("json-file driver", "line by line (before)") - off) * 1e6,
        "batched": (default("json-file driver", "batched (default)") - off) * 1e6,
        "engine": (
            default("json-file driver", "line by line (before)") - default("--log-driver none", "line by line (before)")
        )
        * 1e6,
    }


def _access_log_targets(points: list[dict[str, Any]]) -> list[tuple[str, bool, str]]:
    ratios = access_log_ratios(points)
    batched, before = (
        ratios[f"default, json-file driver, {way}"] for way in ("batched (default)", "line by line (before)")
    )
    dev_null = next(ratio for name, ratio in ratios.items() if "/dev/null" in name and "batched" in name)
    return [
        (
            f"default, access log on, json-file driver >= {BATCHED_OVER_LINE_BY_LINE}x line by line",
            batched / before >= BATCHED_OVER_LINE_BY_LINE,
            f"{batched / before:.2f}x",
        ),
        (
            f"default, access log on, json-file driver >= {BATCHED_SHARE_OF_LOG_OFF}x the log off",
            batched >= BATCHED_SHARE_OF_LOG_OFF,
            f"{batched:.2f}x",
        ),
        (
            f"access log to /dev/null >= {DEV_NULL_SHARE_OF_LOG_OFF}x the log off",
            dev_null >= DEV_NULL_SHARE_OF_LOG_OFF,
            f"{dev_null:.2f}x",
        ),
    ]


def render_report(results: Results) -> str:
    environment = template_environment("devtools.bench", trim_blocks=True)
    environment.filters["mb"] = lambda size: f"{size / 10**6:.1f}"
    environment.filters["median"] = statistics.median
    environment.globals["access_log_ratios"] = access_log_ratios
    environment.globals["access_log_costs"] = access_log_costs
    return environment.get_template("benchmarks.md.j2").render(results=results, summary=summarize(results))


def write_report(results: Results, path: Path) -> None:
    path.write_text(render_report(results))
