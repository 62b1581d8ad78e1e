"""The throughput chart of docs/benchmarks.md: requests/s and p99 latency per configuration, the
median of the rounds with a bar from the lowest to the highest."""

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
        for axes, measured in ((throughput, "requests_per_second"), (latency, "p99_ms")):
            spreads = [points[configuration][measured] for configuration in configurations]
            medians = [spread["median"] for spread in spreads]
            below = [spread["median"] - spread["low"] for spread in spreads]
            above = [spread["high"] - spread["median"] for spread in spreads]
            axes.bar(positions, medians, width, yerr=[below, above], capsize=3, label=endpoint)
    throughput.set_ylabel("requests/s (median, lowest-highest round)")
    title = f"{results['tag']}, server on one core, wrk on another, {results['rounds']} rounds ({results['date']})"
    throughput.set_title(title)
    throughput.legend(loc="lower left")
    latency.set_ylabel("p99 latency, ms (median, lowest-highest)")
    latency.set_xticks(range(len(configurations)), configurations, rotation=20, ha="right")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
