"""The benchmark's parsing and verdicts, and the committed report being up to date."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from dataclasses import asdict
from typing import Any

import pytest
from python_on_whales.exceptions import DockerException

from bake.engine.readme import with_section
from bake.paths import README, REPO_ROOT
from devtools.bench import build_cost
from devtools.bench.access_logging import LOG_OFF
from devtools.bench.build_cost import BuildFailed, count_layer_steps, timed_bake
from devtools.bench.limits import host_rule_workers
from devtools.bench.report import (
    EN_DASH,
    README_BEGIN,
    README_END,
    _family_targets,
    access_log_costs,
    render_readme_section,
    render_report,
    self_checks,
    summarize,
)
from devtools.bench.rounds import NO, WITHIN_NOISE, YES, LoadRounds, Spread
from devtools.bench.sections import SECTIONS
from devtools.bench.wrk import LoadError, LoadResult, parse_report

WRK_OUTPUT = """Running 3s test @ http://127.0.0.1:8080/json
  1 threads and 64 connections
  60000 requests in 3.00s, 8.01MB read
Requests/sec:  20000.00
{"requests": 60000, "duration_us": 3000000, "errors": 0, "non_2xx": 2, "p50_us": 2900, "p99_us": 8100}
"""


def test_wrk_report_line_gives_rate_latency_and_errors() -> None:
    result = parse_report(WRK_OUTPUT)
    assert result.requests_per_second == pytest.approx(20000)
    assert result.p50_ms == pytest.approx(2.9)
    assert result.p99_ms == pytest.approx(8.1)
    assert result.errors == 2  # non-2xx answers count as failures


def test_wrk_output_without_report_line_is_an_error() -> None:
    with pytest.raises(LoadError, match="no report line"):
        parse_report("unable to connect to 127.0.0.1:8080 Connection refused\n")


BUILD_LOG = """#5 [python3_11-slim linux/amd64 1/6] FROM docker.io/standin/python:3.11-slim
#5 DONE 0.0s
#6 [python3_11-slim linux/amd64 2/6] RUN --mount=type=bind,source=common/requirements.txt pip install
#6 CACHED
#7 [python3_11-slim linux/arm64 2/6] RUN --mount=type=bind,source=common/requirements.txt pip install
#7 0.412 Collecting gunicorn==27.0.1
#7 DONE 41.3s
#8 [python3_11-slim linux/amd64 3/6] COPY common/runtime/ /usr/local/lib/uvicorn-gunicorn/
#8 DONE 0.1s
#9 [internal] load build context
#9 DONE 0.0s
#10 [python3_11-slim linux/amd64 6/6] WORKDIR /app
#10 CACHED
""".splitlines()


def test_layer_steps_that_ran_are_counted_and_cached_ones_are_not() -> None:
    count = count_layer_steps(BUILD_LOG)
    assert (count.ran, count.total) == (2, 4)  # FROM and internal steps make no layer of ours


def test_a_failed_build_says_how_its_log_ends(monkeypatch: pytest.MonkeyPatch) -> None:
    def failing(*_: object) -> Iterator[str]:
        yield from BUILD_LOG
        yield "#11 ERROR: process did not complete successfully: exit code: 1"
        raise DockerException(["docker", "buildx", "bake"], 1)

    monkeypatch.setattr(build_cost, "bake_streaming", failing)
    with pytest.raises(BuildFailed) as failure:
        timed_bake("whole family: cold", None, None)  # type: ignore[arg-type]  # the fake takes anything
    message = str(failure.value)
    assert message.startswith("build whole family: cold failed (exit code 1); its log ends:\n")
    assert message.endswith("\n#10 CACHED\n#11 ERROR: process did not complete successfully: exit code: 1")


@pytest.mark.parametrize(("per_core", "host_cpus", "expected"), [(1, 2, 2), (1, 64, 64), (4, 2, 8), (0.25, 2, 2)])
def test_host_rule_is_what_reading_the_host_cpu_count_starts(per_core: float, host_cpus: int, expected: int) -> None:
    assert host_rule_workers(per_core, host_cpus) == expected


def _load(rps: float) -> dict[str, float]:
    return {"requests_per_second": rps, "p50_ms": 1.0, "p99_ms": 2.0, "requests": 1000, "errors": 0}


def _rounds(*rps: float) -> dict[str, Any]:
    """A point's load as the bench writes it: each round, and each figure's spread."""
    return asdict(LoadRounds.of([LoadResult(rate, 1.0, 2.0, 1000, 0) for rate in rps]))


def _results() -> dict[str, Any]:
    """Results of the sections with targets, each met in every round."""
    throughput = [
        {"configuration": name, "workers": workers, "endpoint": "JSON (/json)", "load": _rounds(*rps)}
        for name, workers, rps in [
            ("default", 2, (9700.0, 9600.0, 9950.0)),
            ("WEB_CONCURRENCY=1", 1, (9000.0, 9000.0, 9000.0)),
            ("WEB_CONCURRENCY=2", 2, (10000.0, 9900.0, 10100.0)),
            ("PROCESS_MANAGER=uvicorn", 2, (9500.0, 9500.0, 9500.0)),
            ("one plain uvicorn process", 1, (9100.0, 9100.0, 9100.0)),
        ]
    ]
    limit = {"limit": "--cpus 1", "workers_per_core": 1.0, "cpus_seen": 1, "workers": 2, "host_rule_workers": 2}
    size = {"tag": "python3.11-slim", "platform": "linux/amd64", "compressed": 12_000_000}
    build = [
        {"scenario": "python3.11-slim: cold (no cache)", "seconds": 100.0, "layers_built": 12, "layer_steps": 12},
        {"scenario": "python3.11-slim: warm, no change", "seconds": 4.0, "layers_built": 0, "layer_steps": 12},
        {"scenario": "python3.11-slim: date-only change", "seconds": 4.0, "layers_built": 0, "layer_steps": 12},
    ]
    startup = [{"platform": "linux/amd64", "runs": [1.0, 3.0, 2.0]}]
    comparison = {
        "platform": "linux/amd64",
        "runs_per_set": 3,
        "sets": [
            {"image": [0.30, 0.31, 0.29], "bare_gunicorn": [0.30, 0.32, 0.31], "original": [0.34, 0.35, 0.33]}
            for _ in range(3)
        ],
    }
    return {
        "throughput": throughput,
        "limits": [limit],
        "sizes": [size],
        "build": build,
        "startup": startup,
        "startup_comparison": comparison,
    }


def _verdicts(results: dict[str, Any]) -> dict[str, str]:
    return dict(summarize(results)["verdicts"])


TARGETS = ["default_share", "cpus_limit", "warm_build", "date_only_change", "slim_size"]
TARGETS += ["start_over_bare_gunicorn", "start_over_original"]


def test_every_target_is_met_by_results_that_meet_them_in_every_round() -> None:
    summary = summarize(_results())
    assert _verdicts(_results()) == dict.fromkeys(TARGETS, YES)
    assert summary["endpoints"]["JSON (/json)"]["default_share"] == Spread(0.97, 9600 / 9900, 9950 / 10100)
    assert summary["startup_median"] == {"linux/amd64": 2.0}


@pytest.mark.parametrize(
    ("change", "failed_target"),
    [
        (lambda r: r["throughput"][0].update(load=_rounds(9000.0, 9000.0, 9000.0)), "default_share"),
        (lambda r: r["limits"][0].update(cpus_seen=2), "cpus_limit"),
        (lambda r: r["build"][1].update(seconds=5.1), "warm_build"),
        (lambda r: r["build"][2].update(layers_built=1), "date_only_change"),
        (lambda r: r["sizes"][0].update(compressed=30_000_001), "slim_size"),
        (lambda r: [s.update(original=[0.31] * 3) for s in r["startup_comparison"]["sets"]], "start_over_original"),
    ],
)  # fmt: skip
def test_each_target_can_fail(change: Any, failed_target: str) -> None:
    results = copy.deepcopy(_results())
    change(results)
    verdicts = _verdicts(results)
    assert verdicts.pop(failed_target) == NO
    assert set(verdicts.values()) == {YES}


def test_a_ratio_whose_rounds_straddle_its_target_is_within_noise() -> None:
    results = _results()
    results["throughput"][0]["load"] = _rounds(9700.0, 9000.0, 9800.0)  # 98%, 91%, 97% of WEB_CONCURRENCY=2
    assert _verdicts(results)["default_share"] == WITHIN_NOISE
    # One set of three over 0.95x the original: the start-up target is not met in every set.
    results["startup_comparison"]["sets"][1]["image"] = [0.33, 0.33, 0.33]
    assert _verdicts(results)["start_over_original"] == WITHIN_NOISE


def test_the_default_and_the_fixed_count_it_starts_must_agree_within_their_spread() -> None:
    results = _results()
    (check,) = self_checks(results)
    assert check.name == "default (2 workers) and WEB_CONCURRENCY=2, JSON (/json)"
    assert check.agrees  # 9,600-9,950 against 9,900-10,100
    assert check.measured == f"9,700 (9,600{EN_DASH}9,950) against 10,000 (9,900{EN_DASH}10,100) requests/s"
    results["throughput"][0]["load"] = _rounds(9700.0, 9600.0, 9800.0)  # the highest round below their lowest
    assert not self_checks(results)[0].agrees
    results["throughput"] = [point for point in results["throughput"] if point["configuration"] != "WEB_CONCURRENCY=2"]
    assert not self_checks(results)[0].agrees  # not measured: nothing shows the bench agrees with itself


def test_the_committed_report_agrees_with_itself() -> None:
    results = json.loads((REPO_ROOT / "docs" / "benchmarks.json").read_text())
    checks = self_checks(results)
    assert checks, "the committed report has no throughput section to check"
    assert all(check.agrees for check in checks), [check for check in checks if not check.agrees]


def test_committed_report_is_rendered_from_the_committed_results() -> None:
    results = json.loads((REPO_ROOT / "docs" / "benchmarks.json").read_text())
    assert (REPO_ROOT / "docs" / "benchmarks.md").read_text() == render_report(results), "run: nox -s bench"
    assert (REPO_ROOT / "docs" / "benchmarks-throughput.png").stat().st_size > 0


def test_the_readme_quotes_the_committed_results() -> None:
    results = json.loads((REPO_ROOT / "docs" / "benchmarks.json").read_text())
    readme = README.read_text()
    assert with_section(readme, README_BEGIN, README_END, render_readme_section(results)) == readme, "run: nox -s bench"


def test_the_start_up_comparison_is_reported_set_by_set() -> None:
    report = render_report(
        _every_section() | {"startup_comparison": _results()["startup_comparison"] | {"original": _original()}}
    )
    assert "| 1 | 0.300 | 0.310 | 0.340 | 0.968 | 0.882 |" in report
    assert "each set's ratio of medians: 0.882, 0.882, 0.882" in report


def _versions() -> dict[str, Any]:
    measured = {"tag": "python3.13-slim", "python": "3.13.5", "load": _rounds(9000.0), "startup_runs": [0.4]}
    return {
        "platform": "linux/amd64",
        "measured": [measured | {"startup": asdict(Spread.of([0.4]))}],
        "left_out": ["python3.12-slim needs a registry: no Debian suite ships CPython 3.12"],
    }


def _every_section() -> dict[str, Any]:
    """The committed results, with each section a partial run may have left out made up."""
    results = json.loads((REPO_ROOT / "docs" / "benchmarks.json").read_text())
    footprint = {"rss_mib": 30.0, "pss_mib": 15.0}
    reading = {"manager": footprint, "worker": footprint}
    made_up = {
        "throughput": _results()["throughput"],
        "memory": {"default": {"idle": reading, "after_load": reading}},
        "startup": _results()["startup"],
        "startup_comparison": _results()["startup_comparison"] | {"original": _original()},
        "limits": [_results()["limits"][0] | {"load": _load(9000.0), "host_rule_load": None}],
        "sizes": [
            _results()["sizes"][0] | {"base": "b", "layers": 7, "uncompressed": 30_000_000, "base_compressed": 1}
        ],
        "build": _results()["build"],
        "versions": _versions(),
    }
    return {**made_up, **results, "sections": list(SECTIONS)}


def _original() -> dict[str, Any]:
    return {
        "repository": "o/r",
        "commit": "0" * 40,
        "dockerfile": "docker-images/python3.11-slim.dockerfile",
        "base": "standin/python:3.11-slim",
        "reference": "wt/ug-original:python3.11-slim",
    }


def test_every_section_renders_and_a_partial_run_says_what_it_left_out() -> None:
    results = _every_section() | {"versions": _versions()}
    report = render_report(results)
    assert "A partial run" not in report
    assert f"| `python3.13-slim` | 3.13.5 | 9000 | 9000{EN_DASH}9000 | 0.40 | 0.40{EN_DASH}0.40 |" in report
    assert "Not measured: python3.12-slim needs a registry" in report
    assert "\n3.13.5: 9,000, 0.40 s.\n" in render_readme_section(results)
    results["sections"] = ["throughput", "startup"]
    assert "A partial run (`--only`): access-log, flavor," in render_report(results)


def test_the_readme_section_stays_within_its_budget() -> None:
    """The README is the Docker Hub description (25,000 bytes at most): the section with every
    part takes no more than the hand-written one it replaced."""
    assert len(render_readme_section(_every_section()).encode()) <= 1_026


def _access_log_points(batched: float = 12_000.0, dev_null: float = 18_000.0) -> list[dict[str, Any]]:
    rates = {
        LOG_OFF: 20_000.0,
        "access log to /dev/null (ACCESS_LOG=/dev/null), batched (default)": dev_null,
        "default, --log-driver none, line by line (before)": 10_000.0,
        "default, json-file driver, line by line (before)": 5_000.0,
        "default, json-file driver, batched (default)": batched,
    }
    return [{"point": name, "load": _rounds(rate, rate, rate)} for name, rate in rates.items()]


def test_the_access_log_costs_are_microseconds_per_request_against_the_log_off() -> None:
    costs = access_log_costs(_access_log_points())
    assert costs["line_by_line"] == pytest.approx(150.0)  # 1/5000 s - 1/20000 s
    assert costs["engine"] == pytest.approx(100.0)  # 1/5000 s - 1/10000 s
    assert costs["batched"] == pytest.approx(1e6 / 12_000 - 50.0)


@pytest.mark.parametrize(
    ("points", "failed"),
    [({"batched": 11_000.0}, "batched_over_log_off"), ({"dev_null": 16_000.0}, "dev_null_over_log_off")],
)
def test_each_access_log_target_can_fail(points: dict[str, float], failed: str) -> None:
    verdicts = _verdicts({"access_log": _access_log_points(**points)})
    assert verdicts.pop(failed) == NO
    assert set(verdicts.values()) == {YES}


def test_the_whole_familys_builds_are_held_to_their_minutes_and_a_baseline_to_none() -> None:
    def cost(scenario: str, seconds: float) -> dict[str, Any]:
        return {"scenario": scenario, "seconds": seconds, "layers_built": 1, "layer_steps": 2}

    costs = [
        cost("python3.11-slim: cold (no cache)", 100),
        cost("whole family (24 images buildable here), as 235e7ae builds it: cold (no cache)", 2300),
        cost("whole family (24 images buildable here), as 235e7ae builds it: change in common/ only", 1600),
        cost("whole family (24 images buildable here): cold (no cache)", 700),
        cost("whole family (24 images buildable here): change in common/ only", 301),
    ]
    assert [(target.name, target.verdict, target.measured) for target in _family_targets(costs)] == [
        ("whole family, cold (no cache) <= 12 min", YES, "11.7 min"),
        ("whole family, change in common/ only <= 5 min", NO, "5.0 min"),
    ]
