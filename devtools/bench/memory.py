"""Resident (RSS) and proportional (PSS) memory of the process manager and of one worker."""

from __future__ import annotations

from dataclasses import dataclass

from devtools.bench.server import RunningServer
from devtools.server_probes import ProcessMemory


@dataclass(frozen=True)
class Footprint:
    rss_mib: float
    pss_mib: float


@dataclass(frozen=True)
class ServerMemory:
    manager: Footprint
    worker: Footprint | None  # None where the manager serves requests itself (plain uvicorn)


def _footprint(process: ProcessMemory) -> Footprint:
    return Footprint(rss_mib=round(process.rss_kib / 1024, 1), pss_mib=round(process.pss_kib / 1024, 1))


def read_memory(server: RunningServer) -> ServerMemory:
    """PID 1 and the first of its workers."""
    manager, workers = server.memory()
    return ServerMemory(_footprint(manager), _footprint(workers[0]) if workers else None)
