"""The benchmark's parsing and verdicts, and the committed report being up to date."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from bake.paths import REPO_ROOT
from devtools.bench.access_logging import LOG_OFF
from devtools.bench.build_cost import count_layer_steps
from devtools.bench.limits import host_rule_workers
from devtools.bench.report import _access_log_targets, _family_targets, access_log_costs, render_report, summarize
from devtools.bench.wrk import LoadError, parse_report

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


@pytest.mark.parametrize(("per_core", "host_cpus", "expected"), [(1, 2, 2), (1, 64, 64), (4, 2, 8), (0.25, 2, 2)])
def test_host_rule_is_what_reading_the_host_cpu_count_starts(per_core: float, host_cpus: int, expected: int) -> None:
    assert host_rule_workers(per_core, host_cpus) == expected


def _load(rps: float) -> dict[str, float]:
    return {"requests_per_second": rps, "p50_ms": 1.0, "p99_ms": 2.0, "requests": 1000, "errors": 0}


def _results() -> dict[str, Any]:
    throughput = [
        {"configuration": name, "workers": workers, "endpoint": "JSON (/json)", "load": _load(rps)}
        for name, workers, rps in [
            ("default", 2, 9700.0),
            ("WEB_CONCURRENCY=1", 1, 9000.0),
            ("WEB_CONCURRENCY=2", 2, 10000.0),
            ("PROCESS_MANAGER=uvicorn", 2, 9500.0),
            ("one plain uvicorn process", 1, 9100.0),
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
    return {"throughput": throughput, "limits": [limit], "sizes": [size], "build": build, "startup": startup}


def _verdicts(results: dict[str, Any]) -> list[bool]:
    return [met for _, met, _ in summarize(results)["targets"]]


def test_every_target_is_met_by_results_that_meet_them() -> None:
    summary = summarize(_results())
    assert _verdicts(_results()) == [True] * 5
    assert summary["endpoints"]["JSON (/json)"]["default_share"] == pytest.approx(0.97)
    assert summary["startup_median"] == {"linux/amd64": 2.0}


@pytest.mark.parametrize(
    ("change", "failed_target"),
    [
        (lambda r: r["throughput"][0]["load"].update(requests_per_second=9400.0), 0),
        (lambda r: r["limits"][0].update(cpus_seen=2), 1),
        (lambda r: r["build"][1].update(seconds=5.1), 2),
        (lambda r: r["build"][2].update(layers_built=1), 3),
        (lambda r: r["sizes"][0].update(compressed=30_000_001), 4),
    ],
)
def test_each_target_can_fail(change: Any, failed_target: int) -> None:
    results = copy.deepcopy(_results())
    change(results)
    verdicts = _verdicts(results)
    assert not verdicts[failed_target]
    assert sum(verdicts) == 4


def test_committed_report_is_rendered_from_the_committed_results() -> None:
    results = json.loads((REPO_ROOT / "docs" / "benchmarks.json").read_text())
    assert (REPO_ROOT / "docs" / "benchmarks.md").read_text() == render_report(results), "run: nox -s bench"
    assert (REPO_ROOT / "docs" / "benchmarks-throughput.png").stat().st_size > 0


def test_the_start_up_comparison_is_reported_as_a_ratio() -> None:
    results = json.loads((REPO_ROOT / "docs" / "benchmarks.json").read_text())
    results["startup_vs_bare"] = {
        "platform": "linux/amd64",
        "image": [0.30, 0.31, 0.29],
        "bare_gunicorn": [0.30, 0.32, 0.31],
        "ratio": 0.30 / 0.31,
    }
    report = render_report(results)
    assert "| `/start.sh` (default) | 0.300 | 0.290 | 0.310 |" in report
    assert "| bare `gunicorn` | 0.310 | 0.300 | 0.320 |" in report
    assert "| ratio of medians | 0.968 | | |" in report


def _access_log_points(batched: float = 12_000.0, dev_null: float = 18_000.0) -> list[dict[str, Any]]:
    rates = {
        LOG_OFF: 20_000.0,
        "access log to /dev/null (ACCESS_LOG=/dev/null), batched (default)": dev_null,
        "default, --log-driver none, line by line (before)": 10_000.0,
        "default, json-file driver, line by line (before)": 5_000.0,
        "default, json-file driver, batched (default)": batched,
    }
    return [{"point": name, "load": _load(rate)} for name, rate in rates.items()]


def test_the_access_log_costs_are_microseconds_per_request_against_the_log_off() -> None:
    costs = access_log_costs(_access_log_points())
    assert costs["line_by_line"] == pytest.approx(150.0)  # 1/5000 s - 1/20000 s
    assert costs["engine"] == pytest.approx(100.0)  # 1/5000 s - 1/10000 s
    assert costs["batched"] == pytest.approx(1e6 / 12_000 - 50.0)


@pytest.mark.parametrize(("points", "failed"), [({"batched": 11_000.0}, 1), ({"dev_null": 16_000.0}, 2)])
def test_each_access_log_target_can_fail(points: dict[str, float], failed: int) -> None:
    met = [verdict for _, verdict, _ in _access_log_targets(_access_log_points(**points))]
    assert met[failed] is False
    assert sum(met) == 2


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
    assert _family_targets(costs) == [
        ("whole family, cold (no cache) <= 12 min", True, "11.7 min"),
        ("whole family, change in common/ only <= 5 min", False, "5.0 min"),
    ]
