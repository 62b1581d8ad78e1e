"""The CPUs and memory this container may really use, from its cgroup and affinity.

`os.cpu_count()` reports the host's CPUs: a pod limited to 1 CPU on a 64-core node
would otherwise start 64 workers. Both cgroup v2 (`cpu.max`, `memory.max`) and
cgroup v1 (`cpu.cfs_quota_us` / `cpu.cfs_period_us`, `memory.limit_in_bytes`) are read.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
# cgroup v1 reports "no memory limit" as a huge number near the largest page-aligned int64.
V1_UNLIMITED_MEMORY = 1 << 60


@dataclass(frozen=True)
class CpuLimit:
    affinity: int  # CPUs this process may be scheduled on (cpuset)
    quota: float | None  # CPU time per period, in CPUs; None without a quota

    @property
    def count(self) -> int:
        """min(affinity, ceil(quota)), never below 1."""
        if self.quota is None:
            return self.affinity
        return max(1, min(self.affinity, math.ceil(self.quota)))


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def cpu_quota(root: Path = CGROUP_ROOT) -> float | None:
    v2 = _read(root / "cpu.max")
    if v2 is not None:
        quota, _, period = v2.partition(" ")
        return None if quota == "max" else int(quota) / int(period or "100000")
    for directory in (root / "cpu", root / "cpu,cpuacct", root / "cpuacct,cpu"):
        quota_us, period_us = _read(directory / "cpu.cfs_quota_us"), _read(directory / "cpu.cfs_period_us")
        if quota_us is not None and period_us is not None:
            return None if int(quota_us) <= 0 else int(quota_us) / int(period_us)
    return None


def cpu_limit(root: Path = CGROUP_ROOT, affinity: int | None = None) -> CpuLimit:
    if affinity is None:
        affinity = len(os.sched_getaffinity(0))
    return CpuLimit(affinity, cpu_quota(root))


def memory_limit(root: Path = CGROUP_ROOT) -> int | None:
    """The container's memory limit in bytes, or None when it has none."""
    v2 = _read(root / "memory.max")
    if v2 is not None:
        return None if v2 == "max" else int(v2)
    v1 = _read(root / "memory" / "memory.limit_in_bytes")
    if v1 is not None and int(v1) < V1_UNLIMITED_MEMORY:
        return int(v1)
    return None
