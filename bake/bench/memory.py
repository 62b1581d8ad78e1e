"""Resident (RSS) and proportional (PSS) memory of the process manager and of one worker."""

from __future__ import annotations

import json
from dataclasses import dataclass

from bake.bench.server import RunningServer
from bake.server_probes import DEFINE_WORKER_PIDS

# Runs inside the container: PID 1 is the process manager; the first of its workers is measured.
_READ_MEMORY = (
    DEFINE_WORKER_PIDS
    + """
import json
def rollup(pid):
    fields = {}
    for line in open(f"/proc/{pid}/smaps_rollup"):
        name, _, rest = line.partition(":")
        if name in ("Rss", "Pss"):
            fields[name.lower()] = int(rest.split()[0])
    return fields
workers = worker_pids()
print(json.dumps({"manager": rollup(1), "worker": rollup(workers[0]) if workers else None}))
"""
)


@dataclass(frozen=True)
class Footprint:
    rss_mib: float
    pss_mib: float


@dataclass(frozen=True)
class ServerMemory:
    manager: Footprint
    worker: Footprint | None  # None where the manager serves requests itself (plain uvicorn)


def _footprint(fields: dict[str, int]) -> Footprint:
    return Footprint(rss_mib=round(fields["rss"] / 1024, 1), pss_mib=round(fields["pss"] / 1024, 1))


def read_memory(server: RunningServer) -> ServerMemory:
    report = json.loads(server.run_python(_READ_MEMORY))
    worker = report["worker"]
    return ServerMemory(_footprint(report["manager"]), _footprint(worker) if worker else None)
