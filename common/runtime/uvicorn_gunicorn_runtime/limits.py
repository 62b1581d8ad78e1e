"""The CPUs and memory this container may really use, from its cgroups and affinity.

`os.cpu_count()` reports the host's CPUs: a pod limited to 1 CPU on a 64-core node
would otherwise start 64 workers. A limit may sit on the process's own cgroup or on any
cgroup above it (a Kubernetes pod, `--cgroup-parent`, Docker in Docker), so every level
from the process's cgroup up to the root of the mounted hierarchy is read and the smallest
limit wins. The process's cgroup comes from /proc/self/cgroup, and the directory of that
cgroup from the mount table, /proc/self/mountinfo. cgroup v2 (`cpu.max`, `memory.max`)
and cgroup v1 (`cpu.cfs_quota_us` / `cpu.cfs_period_us`, `memory.limit_in_bytes` and
memory.stat's `hierarchical_memory_limit`) are both read.

A file that does not exist sets no limit at its level. One that exists but cannot be read
or parsed is ignored with one warning line on standard error; the other levels still count.
"""

from __future__ import annotations

import math
import os
import re
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path, PurePosixPath
from typing import NamedTuple, TypeVar

# Paths below are read under this root; tests pass a directory holding a fake tree.
HOST_ROOT = Path("/")
# cgroup v1 reports "no memory limit" as a huge number near the largest page-aligned int64.
V1_UNLIMITED_MEMORY = 1 << 60
# A malformed value is quoted in the warning up to this length.
QUOTED_VALUE_CHARS = 80

T = TypeVar("T")
Number = TypeVar("Number", int, float)


class CpuLimit(NamedTuple):
    affinity: int  # CPUs this process may be scheduled on (cpuset)
    quota: float | None  # CPU time per period, in CPUs; None without a quota

    @property
    def cpus(self) -> int:
        """min(affinity, ceil(quota)), never below 1."""
        if self.quota is None:
            return self.affinity
        return max(1, min(self.affinity, math.ceil(self.quota)))


class Hierarchy(NamedTuple):
    """Where one controller's limits for this process are: the directories of its cgroup
    and of each cgroup above it that the mount shows, the process's own first."""

    version: int  # 1 or 2
    levels: tuple[Path, ...]


def _warn(source: Path | str, value: str, expected: str) -> None:
    shown = value if len(value) <= QUOTED_VALUE_CHARS else value[:QUOTED_VALUE_CHARS] + "..."
    print(f"warning: {source}: ignoring {shown!r}, expected {expected}", file=sys.stderr, flush=True)


def _read(path: Path) -> str | None:
    """The file's text, stripped; None if it does not exist, or (with a warning) cannot be read."""
    try:
        return path.read_text().strip()
    except (FileNotFoundError, NotADirectoryError):
        return None
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else type(error).__name__
        print(f"warning: {path}: cannot be read ({reason}), ignoring it", file=sys.stderr, flush=True)
        return None


def _parsed(source: Path | str, text: str, parse: Callable[[str], T], expected: str) -> T | None:
    try:
        return parse(text)
    except ValueError:
        _warn(source, text, expected)
        return None


def _value(path: Path, parse: Callable[[str], T], expected: str) -> T | None:
    """The file's value parsed; None if it is missing or, with a warning, malformed.
    `parse` raises ValueError on a malformed value and may return None for "no limit"."""
    text = _read(path)
    return None if text is None else _parsed(path, text, parse, expected)


def _whole(text: str, minimum: int) -> int:
    # int() alone would also take "+5", " 5" or "1_000".
    if not re.fullmatch(r"-?[0-9]+", text) or int(text) < minimum:
        raise ValueError(text)
    return int(text)


# Parsers of one cgroup file each. They raise ValueError on a malformed value and return
# None where the value means "no limit".

CPU_MAX_EXPECTED = "'max PERIOD' or 'QUOTA PERIOD' with whole numbers above 0"


def _cpu_max(text: str) -> float | None:
    fields = text.split(" ")
    if len(fields) != 2:
        raise ValueError(text)
    quota, period = fields
    period_us = _whole(period, minimum=1)
    return None if quota == "max" else _whole(quota, minimum=1) / period_us


def _v1_quota(text: str) -> int | None:
    return None if text == "-1" else _whole(text, minimum=1)


def _v2_memory(text: str) -> int | None:
    return None if text == "max" else _whole(text, minimum=0)


def _v1_memory(text: str) -> int | None:
    limit = _whole(text, minimum=0)
    return None if limit >= V1_UNLIMITED_MEMORY else limit


def _stat_field(path: Path, key: str, parse: Callable[[str], T], expected: str) -> T | None:
    """One `key value` line of a stat file such as memory.stat, parsed."""
    text = _read(path)
    for line in (text or "").splitlines():
        name, _, value = line.partition(" ")
        if name == key:
            return _parsed(f"{path} {key}", value, parse, expected)
    return None


def _cpu_quota_at(level: Path, version: int) -> float | None:
    if version == 2:
        return _value(level / "cpu.max", _cpu_max, CPU_MAX_EXPECTED)
    quota = _value(level / "cpu.cfs_quota_us", _v1_quota, "-1 or a whole number above 0")
    if quota is None:
        return None
    period = _value(level / "cpu.cfs_period_us", lambda text: _whole(text, minimum=1), "a whole number above 0")
    return None if period is None else quota / period


def _memory_limits_at(level: Path, version: int) -> Iterator[int | None]:
    if version == 2:
        yield _value(level / "memory.max", _v2_memory, "'max' or a whole number of bytes")
        return
    expected = "a whole number of bytes"
    yield _value(level / "memory.limit_in_bytes", _v1_memory, expected)
    # The smallest limit of this cgroup and every one above it, even those the mount hides.
    yield _stat_field(level / "memory.stat", "hierarchical_memory_limit", _v1_memory, expected)


def _smallest(values: Iterable[Number | None]) -> Number | None:
    present = [value for value in values if value is not None]
    return min(present) if present else None


# Where the cgroup files are.


def _unescape(field: str) -> str:
    """mountinfo writes space, tab, newline and backslash in paths as octal escapes."""
    return re.sub(r"\\([0-7]{3})", lambda match: chr(int(match.group(1), 8)), field)


class _Mount(NamedTuple):
    version: int
    controllers: frozenset[str]  # for v1, from the super options; empty for v2
    root: PurePosixPath  # the cgroup that appears at the mount point
    point: str


def _cgroup_mounts(root: Path) -> list[_Mount]:
    mounts: list[_Mount] = []
    for line in (_read(root / "proc/self/mountinfo") or "").splitlines():
        # id parent major:minor root mount-point options [optional fields...] - fstype source super-options
        fields = line.split(" ")
        if "-" not in fields[6:]:
            continue
        tail = fields[fields.index("-", 6) + 1 :]
        if len(tail) < 3 or tail[0] not in ("cgroup", "cgroup2"):
            continue
        version = 2 if tail[0] == "cgroup2" else 1
        controllers = frozenset(tail[2].split(",")) if version == 1 else frozenset()
        mounts.append(_Mount(version, controllers, PurePosixPath(_unescape(fields[3])), _unescape(fields[4])))
    return mounts


def _memberships(root: Path) -> list[tuple[frozenset[str], PurePosixPath]]:
    """The process's cgroup in each hierarchy: (controllers, path); v2's has no controllers."""
    memberships = []
    for line in (_read(root / "proc/self/cgroup") or "").splitlines():
        parts = line.split(":", 2)
        if len(parts) == 3 and parts[2].startswith("/"):
            memberships.append((frozenset(parts[1].split(",")) - {""}, PurePosixPath(parts[2])))
    return memberships


def _levels(root: Path, mount: _Mount, cgroup: PurePosixPath) -> tuple[Path, ...]:
    """The directories of `cgroup` and of its ancestors down to the mount's root cgroup, or
    none when the mount does not show `cgroup` (it lies outside the mounted subtree)."""
    if cgroup != mount.root and mount.root not in cgroup.parents:
        return ()
    below = cgroup.relative_to(mount.root).parts
    if ".." in below:
        return ()
    top = root / mount.point.lstrip("/")
    return tuple(top.joinpath(*below[:depth]) for depth in range(len(below), -1, -1))


def hierarchy(controller: str, root: Path = HOST_ROOT) -> Hierarchy | None:
    """Where this process's `controller` (cpu, memory) limits are; None without one.

    A v1 hierarchy of the controller wins over the v2 one: a controller sits in only one of
    them, and hybrid hosts mount a v2 hierarchy without controllers beside v1 ones.
    """
    memberships = _memberships(root)
    v1 = [path for controllers, path in memberships if controller in controllers]
    if v1:
        version, cgroup = 1, v1[0]
    else:
        v2 = [path for controllers, path in memberships if not controllers]
        if not v2:
            return None
        version, cgroup = 2, v2[0]
    candidates = [
        mount
        for mount in _cgroup_mounts(root)
        if mount.version == version and (version == 2 or controller in mount.controllers)
    ]
    # The same hierarchy may be mounted more than once; a later mount covers an earlier one
    # at the same place, so the last one that shows the process's cgroup is the one to read.
    for mount in reversed(candidates):
        levels = _levels(root, mount, cgroup)
        if levels:
            return Hierarchy(version, levels)
    return None


def cpu_quota(root: Path = HOST_ROOT) -> float | None:
    """The smallest CPU quota along this process's cgroup path, in CPUs; None without one."""
    found = hierarchy("cpu", root)
    if found is None:
        return None
    return _smallest(_cpu_quota_at(level, found.version) for level in found.levels)


def cpu_limit(root: Path = HOST_ROOT, affinity: int | None = None) -> CpuLimit:
    if affinity is None:
        affinity = len(os.sched_getaffinity(0))
    return CpuLimit(affinity, cpu_quota(root))


def memory_limit(root: Path = HOST_ROOT) -> int | None:
    """The smallest memory limit along this process's cgroup path, in bytes; None without one."""
    found = hierarchy("memory", root)
    if found is None:
        return None
    return _smallest(limit for level in found.levels for limit in _memory_limits_at(level, found.version))
