"""`nox -s bench`: throughput, latency, tuning under limits, start-up, memory, size and build
cost of the images, measured side by side on this machine and written to docs/benchmarks.md."""
