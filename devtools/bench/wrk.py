"""Load from wrk on loopback, pinned to its own core, read back as one JSON line."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

from bake.errors import BakeError

REPORT_SCRIPT = Path(__file__).with_name("wrk_report.lua")
CONNECTIONS = 64


class LoadError(BakeError):
    """wrk did not run, or the server failed requests under load."""


@dataclass(frozen=True)
class LoadResult:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int


def parse_report(output: str) -> LoadResult:
    """The JSON line wrk_report.lua prints after wrk's text report."""
    lines = [line for line in output.splitlines() if line.startswith("{")]
    if not lines:
        raise LoadError(f"wrk printed no report line:\n{output}")
    report = json.loads(lines[-1])
    return LoadResult(
        requests_per_second=report["requests"] / (report["duration_us"] / 1e6),
        p50_ms=report["p50_us"] / 1000,
        p99_ms=report["p99_us"] / 1000,
        requests=report["requests"],
        errors=report["errors"] + report["non_2xx"],
    )


def run_load(url: str, seconds: float, cpu: int, connections: int = CONNECTIONS) -> LoadResult:
    """`seconds` of load on `url` from one wrk thread with `connections` connections on core `cpu`."""
    command = ["taskset", "--cpu-list", str(cpu), "wrk", "--threads", "1", "--connections", str(connections)]
    command += ["--duration", f"{max(1, round(seconds))}s", "--script", str(REPORT_SCRIPT), url]
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise LoadError(f"wrk failed ({completed.returncode}): {completed.stderr.strip() or completed.stdout}")
    result = parse_report(completed.stdout)
    if result.errors:
        raise LoadError(f"{url}: {result.errors} of {result.requests} requests failed under load")
    return result
