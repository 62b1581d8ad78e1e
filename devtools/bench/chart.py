"""The throughput chart of docs/benchmarks.md: requests/s and p99 latency per configuration."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no screen here
import matplotlib.pyplot as plt

from devtools.bench.report import Results


def write_throughput_chart(results: Results, path: Path) -> None:
    configurations = list(dict.fromkeys(point["configuration"] for point in results["throughput"]))
    endpoints = list(dict.fromkeys(point["endpoint"] for point in results["throughput"]))
    width = 0.8 / len(endpoints)
    figure, (throughput, latency) = plt.subplots(2, 1, figsize=(10, 7), sharex=True)
    for index, endpoint in enumerate(endpoints):
        points = {p["configuration"]: p["load"] for p in results["throughput"] if p["endpoint"] == endpoint}
        positions = [i + (index - (len(endpoints) - 1) / 2) * width for i in range(len(configurations))]
        throughput.bar(positions, [points[c]["requests_per_second"] for c in configurations], width, label=endpoint)
        latency.bar(positions, [points[c]["p99_ms"] for c in configurations], width, label=endpoint)
    throughput.set_ylabel("requests/s")
    throughput.set_title(f"{results['tag']}, server on one core, wrk on another ({results['date']})")
    throughput.legend(loc="lower left")
    latency.set_ylabel("p99 latency, ms")
    latency.set_xticks(range(len(configurations)), configurations, rotation=20, ha="right")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
