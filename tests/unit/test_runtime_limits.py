from __future__ import annotations

from pathlib import Path

import pytest
from uvicorn_gunicorn_runtime.limits import CpuLimit, cpu_limit, cpu_quota, memory_limit


def _tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text + "\n")
    return root


@pytest.mark.parametrize(
    ("files", "quota"),
    [
        ({"cpu.max": "max 100000"}, None),
        ({"cpu.max": "50000 100000"}, 0.5),
        ({"cpu.max": "250000 100000"}, 2.5),
        ({"cpu/cpu.cfs_quota_us": "-1", "cpu/cpu.cfs_period_us": "100000"}, None),
        ({"cpu/cpu.cfs_quota_us": "100000", "cpu/cpu.cfs_period_us": "100000"}, 1.0),
        ({"cpu,cpuacct/cpu.cfs_quota_us": "150000", "cpu,cpuacct/cpu.cfs_period_us": "100000"}, 1.5),
        ({}, None),
    ],
    ids=["v2-none", "v2-half", "v2-fractional", "v1-none", "v1-one", "v1-combined-dir", "no-cgroup"],
)
def test_cpu_quota(tmp_path: Path, files: dict[str, str], quota: float | None) -> None:
    assert cpu_quota(_tree(tmp_path, files)) == quota


@pytest.mark.parametrize(
    ("affinity", "quota", "count"),
    [(64, None, 64), (64, 1.0, 1), (64, 0.5, 1), (64, 2.5, 3), (1, 4.0, 1), (2, 0.01, 1)],
)
def test_cpu_count_is_the_smaller_of_affinity_and_rounded_up_quota(
    affinity: int, quota: float | None, count: int
) -> None:
    assert CpuLimit(affinity, quota).count == count


def test_cpu_limit_combines_cpuset_and_quota(tmp_path: Path) -> None:
    root = _tree(tmp_path, {"cpu.max": "200000 100000"})
    assert cpu_limit(root, affinity=1) == CpuLimit(1, 2.0)
    assert cpu_limit(root, affinity=1).count == 1


@pytest.mark.parametrize(
    ("files", "limit"),
    [
        ({"memory.max": "max"}, None),
        ({"memory.max": "268435456"}, 268435456),
        ({"memory/memory.limit_in_bytes": "9223372036854771712"}, None),
        ({"memory/memory.limit_in_bytes": "536870912"}, 536870912),
        ({}, None),
    ],
    ids=["v2-none", "v2-256m", "v1-none", "v1-512m", "no-cgroup"],
)
def test_memory_limit(tmp_path: Path, files: dict[str, str], limit: int | None) -> None:
    assert memory_limit(_tree(tmp_path, files)) == limit
