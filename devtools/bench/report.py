"""docs/benchmarks.md and README's Performance section, rendered from the results JSON the
benchmark writes beside the report.

Neither holds a number the JSON does not: a unit test renders the committed JSON and compares
it with the committed report and README section. Every ratio is derived here from the rounds
the JSON keeps, round by round (or set by set), so that its spread is known: a target is met
when every round meets it, missed when none does, and "within noise" otherwise."""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bake.engine.readme import with_section
from bake.engine.rendering import template_environment
from devtools.bench.access_logging import LOG_OFF
from devtools.bench.production import DEFAULT as RECYCLING_DEFAULT
from devtools.bench.production import RECYCLING_NAME
from devtools.bench.rounds import NO, WITHIN_NOISE, YES, Spread, at_least, at_most, combined, paired_ratios
from devtools.bench.sections import SECTIONS
from devtools.bench.startup import BARE, ORIGINAL, StartupComparison
from devtools.bench.throughput import DEFAULT, PLAIN_UVICORN, SWEEP_PREFIX, UVICORN_MANAGER, sweep_name

Results = dict[str, Any]
Point = Mapping[str, Any]

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
START_OVER_BARE = 1.0
START_OVER_ORIGINAL = 0.95

README_BEGIN = "<!-- performance:begin -->\n"
README_END = "<!-- performance:end -->\n"
EN_DASH = "\u2013"
VERDICTS = {YES: "yes", NO: "**no**", WITHIN_NOISE: "within noise"}


@dataclass(frozen=True)
class Target:
    key: str  # how the README's section finds its verdict
    name: str
    verdict: str  # YES, NO or WITHIN_NOISE
    measured: str


@dataclass(frozen=True)
class Check:
    """Two measurements that are the same by definition: they must agree within their spread."""

    name: str
    agrees: bool
    measured: str


def spread(value: Spread | Mapping[str, float]) -> Spread:
    return value if isinstance(value, Spread) else Spread(value["median"], value["low"], value["high"])


def span(value: Spread | Mapping[str, float], form: str = "{:.0f}") -> str:
    """`low-high`, with an en dash."""
    value = spread(value)
    return f"{form.format(value.low)}{EN_DASH}{form.format(value.high)}"


def figure(value: Spread | Mapping[str, float], form: str = "{:,.0f}") -> str:
    """`median (low-high)`."""
    return f"{form.format(spread(value).median)} ({span(value, form)})"


def rates(point: Point) -> list[float]:
    """Requests/s of each round of a point measured in rounds."""
    return [float(load["requests_per_second"]) for load in point["load"]["rounds"]]


def _build_seconds(results: Results, suffix: str) -> dict[str, Any]:
    for cost in results["build"]:
        if cost["scenario"].endswith(suffix):
            return dict(cost)
    raise KeyError(f"no build scenario ending in {suffix!r}")


def throughput_figures(points: Sequence[Point]) -> dict[str, dict[str, Any]]:
    """Per endpoint: the default's requests/s, the best fixed count, and the ratios, round by round."""
    figures = {}
    for endpoint in dict.fromkeys(point["endpoint"] for point in points):
        at = {point["configuration"]: point for point in points if point["endpoint"] == endpoint}
        sweep = [point for name, point in at.items() if name.startswith(SWEEP_PREFIX)]
        best = max(sweep, key=lambda point: point["load"]["requests_per_second"]["median"])
        default = at[DEFAULT]
        figures[endpoint] = {
            "default": spread(default["load"]["requests_per_second"]),
            "workers": default["workers"],
            "best": best["configuration"],
            "best_rps": spread(best["load"]["requests_per_second"]),
            "default_share": paired_ratios(rates(default), rates(best)),
            "uvicorn_over_gunicorn": paired_ratios(rates(at[UVICORN_MANAGER]), rates(default)),
            "default_over_plain": paired_ratios(rates(default), rates(at[PLAIN_UVICORN])),
        }
    return figures


def self_checks(results: Results) -> list[Check]:
    """The default configuration against the fixed count it starts, endpoint by endpoint."""
    checks = []
    points = results.get("throughput", [])
    for endpoint, figures in throughput_figures(points).items() if points else []:
        same = sweep_name(figures["workers"])
        name = f"{DEFAULT} ({figures['workers']} workers) and {same}, {endpoint}"
        point = next((p for p in points if p["configuration"] == same and p["endpoint"] == endpoint), None)
        if point is None:
            checks.append(Check(name, False, f"{same} was not measured"))
            continue
        other = spread(point["load"]["requests_per_second"])
        measured = f"{figure(figures['default'])} against {figure(other)} requests/s"
        checks.append(Check(name, figures["default"].overlaps(other), measured))
    return checks


def set_ratios(comparison: Point) -> dict[str, list[float]]:
    """Per other start, each set's ratio of medians."""
    return StartupComparison(comparison["platform"], comparison["runs_per_set"], comparison["sets"]).ratios()


def _comparison_targets(comparison: Point) -> list[Target]:
    ratios = set_ratios(comparison)
    names = {
        BARE: ("a bare Gunicorn start of the same image", START_OVER_BARE),
        ORIGINAL: ("the original image on the same base", START_OVER_ORIGINAL),
    }
    return [
        Target(
            f"start_over_{other}",
            f"start-up from `docker run` to the first 200 <= {target:.2f}x {what}",
            at_most(Spread.of(ratios[other]), target),
            f"each set's ratio of medians: {', '.join(f'{ratio:.3f}' for ratio in ratios[other])}",
        )
        for other, (what, target) in names.items()
        if other in ratios
    ]


def access_log_ratios(points: Sequence[Point]) -> dict[str, Spread]:
    """Each point's requests/s over the log-off point's, round by round."""
    off = next(rates(point) for point in points if point["point"] == LOG_OFF)
    return {point["point"]: paired_ratios(rates(point), off) for point in points}


def access_log_costs(points: Sequence[Point]) -> dict[str, float]:
    """Microseconds each request spends on its access line (the default configuration, line by
    line and batched), and the engine's share of the line-by-line cost, against the log off;
    from the medians."""
    seconds = {point["point"]: 1 / float(point["load"]["requests_per_second"]["median"]) for point in points}
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


def _access_log_targets(points: Sequence[Point]) -> list[Target]:
    by_name = {point["point"]: rates(point) for point in points}
    batched, before = (
        by_name[f"default, json-file driver, {way}"] for way in ("batched (default)", "line by line (before)")
    )
    off = by_name[LOG_OFF]
    dev_null = next(runs for name, runs in by_name.items() if "/dev/null" in name and "batched" in name)
    default, dev_null_log = "default, access log on, json-file driver", "access log to /dev/null"
    checks = [
        ("batched_over_lines", default, BATCHED_OVER_LINE_BY_LINE, "line by line", paired_ratios(batched, before)),
        ("batched_over_log_off", default, BATCHED_SHARE_OF_LOG_OFF, "the log off", paired_ratios(batched, off)),
        ("dev_null_over_log_off", dev_null_log, DEV_NULL_SHARE_OF_LOG_OFF, "the log off", paired_ratios(dev_null, off)),
    ]  # fmt: skip
    return [
        Target(key, f"{what} >= {target}x {against}", at_least(ratio, target), figure(ratio, "{:.2f}x"))
        for key, what, target, against, ratio in checks
    ]


def _limit_target(rows: Sequence[Point]) -> Target:
    cpus_one = [row for row in rows if row["limit"] == "--cpus 1"]
    return Target(
        "cpus_limit",
        "under --cpus 1 the automatic worker count follows the limit, not the host",
        YES if cpus_one and all(row["cpus_seen"] == 1 for row in cpus_one) else NO,
        "; ".join(
            f"WORKERS_PER_CORE={row['workers_per_core']:g}: {row['cpus_seen']} CPU seen, "
            f"{row['workers']} workers (host rule: {row['host_rule_workers']})"
            for row in cpus_one
        ),
    )


def _build_targets(results: Results) -> list[Target]:
    cold = _build_seconds(results, "cold (no cache)")
    warm = _build_seconds(results, "warm, no change")
    date_only = _build_seconds(results, "date-only change")
    return [
        Target(
            "warm_build",
            f"warm rebuild with no change <= {WARM_SHARE_OF_COLD:.0%} of the cold build",
            YES if warm["seconds"] <= WARM_SHARE_OF_COLD * cold["seconds"] else NO,
            f"{warm['seconds']} s against {cold['seconds']} s ({warm['seconds'] / cold['seconds']:.1%})",
        ),
        Target(
            "date_only_change",
            "a date-only change rebuilds no layer",
            YES if date_only["layers_built"] == 0 else NO,
            f"{date_only['layers_built']} of {date_only['layer_steps']} layer steps ran",
        ),
    ]


def _family_targets(costs: Sequence[Point]) -> list[Target]:
    """The whole family's builds as this tree makes them (a baseline's rows say `, as REF`)."""
    family = [cost for cost in costs if cost["scenario"].startswith("whole family") and ", as " not in cost["scenario"]]
    found = []
    for key, suffix, minutes in (
        ("family_cold", "cold (no cache)", FAMILY_COLD_MINUTES),
        ("family_common_change", "change in common/ only", FAMILY_COMMON_CHANGE_MINUTES),
    ):
        for cost in [cost for cost in family if cost["scenario"].endswith(suffix)]:
            seconds = float(cost["seconds"])
            verdict = YES if seconds <= minutes * 60 else NO
            found.append(Target(key, f"whole family, {suffix} <= {minutes} min", verdict, f"{seconds / 60:.1f} min"))
    return found


def _size_target(sizes: Sequence[Point]) -> Target:
    slim = [size for size in sizes if size["tag"].endswith("-slim")]
    return Target(
        "slim_size",
        f"layers a slim tag adds over its base <= {SLIM_ADDED_COMPRESSED_MB} MB compressed",
        YES if slim and all(size["compressed"] <= SLIM_ADDED_COMPRESSED_MB * 10**6 for size in slim) else NO,
        ", ".join(f"{size['tag']} {size['platform']}: {size['compressed'] / 10**6:.1f} MB" for size in slim),
    )


def targets(results: Results) -> list[Target]:
    """The verdict on each target whose section the run measured."""
    found = []
    if "throughput" in results:
        figures = throughput_figures(results["throughput"])
        found.append(
            Target(
                "default_share",
                f"default configuration >= {DEFAULT_SHARE_OF_BEST:.0%} of the best fixed worker count",
                combined(at_least(each["default_share"], DEFAULT_SHARE_OF_BEST) for each in figures.values()),
                ", ".join(f"{name}: {figure(each['default_share'], '{:.1%}')}" for name, each in figures.items()),
            )
        )
    if "limits" in results:
        found.append(_limit_target(results["limits"]))
    if "build" in results:
        found += _build_targets(results) + _family_targets(results["build"])
    if "sizes" in results:
        found.append(_size_target(results["sizes"]))
    if "startup_comparison" in results:
        found += _comparison_targets(results["startup_comparison"])
    if "access_log" in results:
        found += _access_log_targets(results["access_log"])
    if "recycling" in results:
        rps = results["recycling"]["rps"]
        ratio = paired_ratios(rps[RECYCLING_NAME], rps[RECYCLING_DEFAULT])
        found.append(
            Target(
                "recycling",
                f"{RECYCLING_NAME} >= {RECYCLING_SHARE_OF_DEFAULT}x the default's requests/s",
                at_least(ratio, RECYCLING_SHARE_OF_DEFAULT),
                figure(ratio, "{:.3f}x"),
            )
        )
    return found


def summarize(results: Results) -> dict[str, Any]:
    """The derived figures, the verdict on each target and the self-checks."""
    found = targets(results)
    summary: dict[str, Any] = {
        "targets": found,
        "verdicts": {target.key: target.verdict for target in found},
        "checks": self_checks(results),
    }
    if "limits" in results:  # the README's example: the most workers per core under --cpus 1
        cpus_one = [row for row in results["limits"] if row["limit"] == "--cpus 1"]
        summary["limit"] = max(cpus_one, key=lambda row: row["workers_per_core"])
    if "throughput" in results:
        summary["endpoints"] = throughput_figures(results["throughput"])
    if "startup" in results:
        summary["startup_median"] = {row["platform"]: statistics.median(row["runs"]) for row in results["startup"]}
    if "startup_comparison" in results:
        summary["comparison_sets"] = set_ratios(results["startup_comparison"])
        summary["comparison"] = {other: Spread.of(ratios) for other, ratios in summary["comparison_sets"].items()}
    if "flavor_json" in results:
        base, flavor = results["flavor_json"]
        summary["flavor_over_base"] = paired_ratios(rates(flavor), rates(base))
    if "one_cpu" in results:
        rows = {(row["endpoint"], row["workers"]): row for row in results["one_cpu"]}
        summary["two_over_one"] = {
            endpoint: paired_ratios(rates(rows[endpoint, 2]), rates(rows[endpoint, 1]))
            for endpoint, _ in rows
            if (endpoint, 1) in rows and (endpoint, 2) in rows
        }
    if "recycling" in results:
        rps = results["recycling"]["rps"]
        summary["recycling"] = {name: paired_ratios(runs, rps[RECYCLING_DEFAULT]) for name, runs in rps.items()}
    return summary


def _render(template: str, results: Results) -> str:
    environment = template_environment("devtools.bench", trim_blocks=True)
    environment.filters |= {
        "mb": lambda size: f"{size / 10**6:.1f}",
        "median": statistics.median,
        "figure": figure,
        "span": span,
        "verdict": VERDICTS.__getitem__,
    }
    environment.globals |= {
        "access_log_ratios": access_log_ratios,
        "access_log_costs": access_log_costs,
        "START_OVER_BARE": START_OVER_BARE,
        "START_OVER_ORIGINAL": START_OVER_ORIGINAL,
    }
    left_out = [name for name in SECTIONS if name not in results["sections"]]
    return environment.get_template(template).render(results=results, summary=summarize(results), left_out=left_out)


def render_report(results: Results) -> str:
    return _render("benchmarks.md.j2", results)


def render_readme_section(results: Results) -> str:
    return _render("readme-performance.md.j2", results)


def write_report(results: Results, path: Path) -> None:
    path.write_text(render_report(results))


def write_readme_section(results: Results, readme: Path) -> None:
    readme.write_text(with_section(readme.read_text(), README_BEGIN, README_END, render_readme_section(results)))
