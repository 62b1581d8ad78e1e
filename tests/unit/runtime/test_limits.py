"""Limits from fake hosts: a directory holding /proc/self/cgroup, /proc/self/mountinfo and
cgroup trees, laid out as each kernel and engine set-up shows them to the process."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from uvicorn_gunicorn_runtime.limits import CpuLimit, Hierarchy, cpu_limit, cpu_quota, hierarchy, memory_limit

MIB = 1 << 20
V1_UNLIMITED = "9223372036854771712"
CONTAINER = "/kubepods/burstable/pod1/cri-abc"  # a process's cgroup as the host's namespace shows it


def _v2_mount(root: str = "/", point: str = "/sys/fs/cgroup") -> str:
    return f"35 24 0:30 {root} {point} rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate"


def _v1_mount(controllers: str, root: str = "/", point: str | None = None) -> str:
    point = point or f"/sys/fs/cgroup/{controllers}"
    return f"40 35 0:33 {root} {point} rw,nosuid,nodev,noexec,relatime shared:15 - cgroup cgroup rw,{controllers}"


def _host(tmp_path: Path, cgroup: list[str], mounts: list[str], files: dict[str, str]) -> Path:
    """A fake root: /proc/self/cgroup and /proc/self/mountinfo from the lines given, and
    each cgroup file (path relative to the root) with its text."""
    proc = tmp_path / "proc" / "self"
    proc.mkdir(parents=True)
    (proc / "cgroup").write_text("".join(line + "\n" for line in cgroup))
    # Other mounts come first on a real host; they must be skipped.
    other = ["22 1 254:0 / / rw,relatime - ext4 /dev/vda rw", "23 22 0:5 / /proc rw - proc proc rw"]
    (proc / "mountinfo").write_text("".join(line + "\n" for line in other + mounts))
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text + "\n")
    return tmp_path


def _v2(tmp_path: Path, files: dict[str, str], cgroup: str = CONTAINER, mount_root: str = "/") -> Path:
    return _host(tmp_path, [f"0::{cgroup}"], [_v2_mount(mount_root)], files)


def _v1(tmp_path: Path, files: dict[str, str], cgroup: str = CONTAINER, mount_root: str = "/") -> Path:
    """A hybrid host as Debian 11 or Ubuntu 20.04 has it: cpu and cpuacct in one v1 hierarchy,
    memory in another, and a v2 hierarchy without controllers."""
    lines = [f"12:memory:{cgroup}", f"4:cpu,cpuacct:{cgroup}", f"1:name=systemd:{cgroup}", f"0::{cgroup}"]
    mounts = [
        _v1_mount("cpu,cpuacct", mount_root),
        _v1_mount("memory", mount_root),
        _v2_mount(mount_root, "/sys/fs/cgroup/unified"),
    ]
    return _host(tmp_path, lines, mounts, files)


def _v1_cpu(level: str, quota: str, period: str = "100000") -> dict[str, str]:
    return {f"{level}/cpu.cfs_quota_us": quota, f"{level}/cpu.cfs_period_us": period}


V1_CPU = "sys/fs/cgroup/cpu,cpuacct"
V1_MEMORY = "sys/fs/cgroup/memory"
V2 = "sys/fs/cgroup"


# Nested limits: the smallest along the path wins, wherever it is.


@pytest.mark.parametrize(
    ("parent", "child", "quota"),
    [
        ("50000 100000", "200000 100000", 0.5),
        ("400000 100000", "150000 100000", 1.5),
        ("max 100000", "max 100000", None),
    ],
    ids=["parent-smaller", "child-smaller", "none"],
)
def test_v2_cpu_quota_is_the_smallest_along_the_path(tmp_path: Path, parent: str, child: str, quota: float) -> None:
    files = {f"{V2}/kubepods/burstable/cpu.max": parent, f"{V2}{CONTAINER}/cpu.max": child}
    assert cpu_quota(_v2(tmp_path, files)) == quota


@pytest.mark.parametrize(
    ("parent", "child", "limit"),
    [(str(256 * MIB), str(1024 * MIB), 256 * MIB), (str(1024 * MIB), str(512 * MIB), 512 * MIB), ("max", "max", None)],
    ids=["parent-smaller", "child-smaller", "none"],
)
def test_v2_memory_limit_is_the_smallest_along_the_path(
    tmp_path: Path, parent: str, child: str, limit: int | None
) -> None:
    files = {f"{V2}/kubepods/memory.max": parent, f"{V2}{CONTAINER}/memory.max": child}
    assert memory_limit(_v2(tmp_path, files)) == limit


def test_v2_periods_differ_by_level(tmp_path: Path) -> None:
    # 30 ms per 50 ms is 0.6 CPU, smaller than 70 ms per 100 ms.
    files = {f"{V2}/kubepods/cpu.max": "70000 100000", f"{V2}{CONTAINER}/cpu.max": "30000 50000"}
    assert cpu_quota(_v2(tmp_path, files)) == 0.6


@pytest.mark.parametrize(
    ("parent", "child", "quota"),
    [("50000", "-1", 0.5), ("-1", "150000", 1.5), ("300000", "200000", 2.0), ("-1", "-1", None)],
    ids=["only-parent", "only-child", "child-smaller", "none"],
)
def test_v1_cpu_quota_is_the_smallest_along_the_path(tmp_path: Path, parent: str, child: str, quota: float) -> None:
    files = {**_v1_cpu(f"{V1_CPU}/kubepods", parent), **_v1_cpu(f"{V1_CPU}{CONTAINER}", child)}
    assert cpu_quota(_v1(tmp_path, files)) == quota


@pytest.mark.parametrize(
    ("parent", "child", "limit"),
    [
        (str(256 * MIB), V1_UNLIMITED, 256 * MIB),
        (V1_UNLIMITED, str(512 * MIB), 512 * MIB),
        (V1_UNLIMITED, V1_UNLIMITED, None),
    ],
    ids=["parent-smaller", "child-smaller", "none"],
)
def test_v1_memory_limit_is_the_smallest_along_the_path(
    tmp_path: Path, parent: str, child: str, limit: int | None
) -> None:
    files = {
        f"{V1_MEMORY}/kubepods/memory.limit_in_bytes": parent,
        f"{V1_MEMORY}{CONTAINER}/memory.limit_in_bytes": child,
    }
    assert memory_limit(_v1(tmp_path, files)) == limit


def test_v1_hierarchical_memory_limit_carries_a_hidden_parents_limit(tmp_path: Path) -> None:
    # Docker's default on cgroup v1: the mount shows only the container's own cgroup, so the
    # pod's 300 MiB is visible only through memory.stat.
    stat = f"cache 0\nrss 4096\nhierarchical_memory_limit {300 * MIB}\nhierarchical_memsw_limit {V1_UNLIMITED}"
    files = {"sys/fs/cgroup/memory/memory.limit_in_bytes": V1_UNLIMITED, "sys/fs/cgroup/memory/memory.stat": stat}
    assert memory_limit(_v1(tmp_path, files, mount_root=CONTAINER)) == 300 * MIB


def test_v1_own_limit_below_the_hierarchical_one_wins(tmp_path: Path) -> None:
    stat = f"hierarchical_memory_limit {V1_UNLIMITED}"
    files = {f"{V1_MEMORY}/memory.limit_in_bytes": str(200 * MIB), f"{V1_MEMORY}/memory.stat": stat}
    assert memory_limit(_v1(tmp_path, files, mount_root=CONTAINER)) == 200 * MIB


# Namespaces and mounts: which directories are read.


def test_host_namespace_deep_path_reads_every_level_to_the_mount_root(tmp_path: Path) -> None:
    root = _v2(tmp_path, {})
    assert hierarchy("cpu", root) == Hierarchy(
        2,
        (
            root / V2 / "kubepods/burstable/pod1/cri-abc",
            root / V2 / "kubepods/burstable/pod1",
            root / V2 / "kubepods/burstable",
            root / V2 / "kubepods",
            root / V2,
        ),
    )


def test_container_namespace_maps_its_root_to_the_mount_point(tmp_path: Path) -> None:
    root = _v2(tmp_path, {f"{V2}/cpu.max": "100000 100000", f"{V2}/memory.max": str(64 * MIB)}, cgroup="/")
    assert hierarchy("memory", root) == Hierarchy(2, (root / V2,))
    assert (cpu_quota(root), memory_limit(root)) == (1.0, 64 * MIB)


def test_mount_of_the_containers_own_cgroup_is_one_level(tmp_path: Path) -> None:
    # Docker on cgroup v1 keeps the host's namespace: the path is long, the mount shows its end.
    root = _v1(tmp_path, _v1_cpu(V1_CPU, "100000"), mount_root=CONTAINER)
    assert hierarchy("cpu", root) == Hierarchy(1, (root / V1_CPU,))
    assert cpu_quota(root) == 1.0


def test_mount_under_the_path_reads_from_there_up(tmp_path: Path) -> None:
    files = {**_v1_cpu(f"{V1_CPU}/pod1", "50000"), **_v1_cpu(f"{V1_CPU}/pod1/cri-abc", "-1")}
    root = _v1(tmp_path, files, mount_root="/kubepods/burstable")
    assert hierarchy("cpu", root) == Hierarchy(
        1, (root / V1_CPU / "pod1/cri-abc", root / V1_CPU / "pod1", root / V1_CPU)
    )
    assert cpu_quota(root) == 0.5


def test_v1_controllers_in_separate_hierarchies(tmp_path: Path) -> None:
    # This project's test host: cpu and cpuacct each in their own hierarchy.
    lines = ["4:memory:/docker/abc", "2:cpuacct:/docker/abc", "1:cpu:/docker/abc", "0::/docker/abc"]
    mounts = [_v1_mount("cpuacct"), _v1_mount("cpu"), _v1_mount("memory")]
    files = {**_v1_cpu("sys/fs/cgroup/cpu/docker/abc", "100000"), **_v1_cpu("sys/fs/cgroup/cpuacct/docker/abc", "1")}
    root = _host(tmp_path, lines, mounts, files)
    assert cpu_quota(root) == 1.0


def test_hybrid_host_reads_v1_controllers_not_the_empty_v2_hierarchy(tmp_path: Path) -> None:
    files = {**_v1_cpu(f"{V1_CPU}{CONTAINER}", "-1"), f"sys/fs/cgroup/unified{CONTAINER}/cpu.max": "10000 100000"}
    root = _v1(tmp_path, files)
    found = hierarchy("cpu", root)
    assert found is not None
    assert found.version == 1
    assert cpu_quota(root) is None


def test_last_mount_showing_the_cgroup_is_read(tmp_path: Path) -> None:
    # A tree mounted twice at the same place: the later mount covers the earlier one.
    lines = [f"0::{CONTAINER}"]
    mounts = [_v2_mount("/"), _v2_mount(CONTAINER)]
    root = _host(tmp_path, lines, mounts, {f"{V2}/cpu.max": "100000 100000"})
    assert hierarchy("cpu", root) == Hierarchy(2, (root / V2,))
    assert cpu_quota(root) == 1.0


def test_mount_point_with_escaped_space(tmp_path: Path) -> None:
    root = _host(tmp_path, ["0::/"], [_v2_mount("/", r"/cgroup\040tree")], {"cgroup tree/cpu.max": "50000 100000"})
    assert cpu_quota(root) == 0.5


@pytest.mark.parametrize(
    ("cgroup", "mounts"),
    [
        (["0::/elsewhere/abc"], [_v2_mount(CONTAINER)]),  # the process's cgroup is outside the mounted subtree
        (["0::/../abc"], [_v2_mount("/")]),  # moved out of its namespace's root
        (["0::/"], []),  # no cgroup file system mounted
        ([], [_v2_mount("/")]),  # no /proc/self/cgroup lines
        (["12:memory:/", "0::/"], [_v1_mount("memory")]),  # v1 host without the cpu controller mounted
    ],
    ids=["outside-mount", "dot-dot", "not-mounted", "no-cgroup", "controller-not-mounted"],
)
def test_unresolvable_cgroup_means_no_limit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], cgroup: list[str], mounts: list[str]
) -> None:
    root = _host(tmp_path, cgroup, mounts, {f"{V2}/cpu.max": "50000 100000", f"{V2}/memory.max": str(MIB)})
    assert cpu_quota(root) is None
    assert capsys.readouterr().err == ""


def test_no_proc_files_means_no_limit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (cpu_quota(tmp_path), memory_limit(tmp_path)) == (None, None)
    assert capsys.readouterr().err == ""


def test_missing_files_set_no_limit_and_no_warning(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Only the pod's level has files; the container's own and the root's are missing, and a
    # quota without its period counts as none.
    files = {f"{V1_CPU}/kubepods/cpu.cfs_quota_us": "50000", f"{V1_MEMORY}/kubepods/memory.limit_in_bytes": str(MIB)}
    root = _v1(tmp_path, files)
    assert (cpu_quota(root), memory_limit(root)) == (None, MIB)
    assert capsys.readouterr().err == ""


# Malformed values: one warning naming the file and the value, then the other levels.


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("cpu.max", "abc"),
        ("cpu.max", ""),
        ("cpu.max", "-50000 100000"),
        ("cpu.max", "50000 0"),
        ("cpu.max", "50000"),
        ("cpu.max", "max"),
        ("cpu.max", "50000 100000 7"),
        ("cpu.max", "0x10 100000"),
        ("memory.max", "abc"),
        ("memory.max", ""),
        ("memory.max", "-1"),
        ("memory.max", "1.5G"),
    ],
)
def test_v2_malformed_value_warns_and_the_parent_counts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, text: str
) -> None:
    files = {
        f"{V2}/kubepods/cpu.max": "300000 100000",
        f"{V2}/kubepods/memory.max": str(MIB),
        f"{V2}{CONTAINER}/{name}": text,
    }
    root = _v2(tmp_path, files)
    assert (cpu_quota(root), memory_limit(root)) == (3.0, MIB)
    (warning,) = capsys.readouterr().err.splitlines()
    assert warning.startswith(f"warning: {root / V2}{CONTAINER}/{name}: ignoring {text!r}")


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("cpu.cfs_quota_us", "abc"),
        ("cpu.cfs_quota_us", ""),
        ("cpu.cfs_quota_us", "-5"),
        ("cpu.cfs_quota_us", "0"),
        ("cpu.cfs_period_us", "0"),
        ("cpu.cfs_period_us", "-100000"),
        ("cpu.cfs_period_us", "garbage"),
    ],
)
def test_v1_malformed_cpu_value_warns_and_the_parent_counts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, text: str
) -> None:
    child = {**_v1_cpu(f"{V1_CPU}{CONTAINER}", "100000"), f"{V1_CPU}{CONTAINER}/{name}": text}
    root = _v1(tmp_path, {**_v1_cpu(f"{V1_CPU}/kubepods", "250000"), **child})
    assert cpu_quota(root) == 2.5
    (warning,) = capsys.readouterr().err.splitlines()
    assert warning.startswith(f"warning: {root / V1_CPU}{CONTAINER}/{name}: ignoring {text!r}")


@pytest.mark.parametrize(
    ("name", "text", "shown"),
    [
        ("memory.limit_in_bytes", "abc", "memory.limit_in_bytes: ignoring 'abc'"),
        ("memory.limit_in_bytes", "", "memory.limit_in_bytes: ignoring ''"),
        ("memory.limit_in_bytes", "-1", "memory.limit_in_bytes: ignoring '-1'"),
        ("memory.stat", "hierarchical_memory_limit lots", "memory.stat hierarchical_memory_limit: ignoring 'lots'"),
        ("memory.stat", "hierarchical_memory_limit", "memory.stat hierarchical_memory_limit: ignoring ''"),
    ],
)
def test_v1_malformed_memory_value_warns_and_the_parent_counts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, text: str, shown: str
) -> None:
    files = {f"{V1_MEMORY}/kubepods/memory.limit_in_bytes": str(MIB), f"{V1_MEMORY}{CONTAINER}/{name}": text}
    root = _v1(tmp_path, files)
    assert memory_limit(root) == MIB
    (warning,) = capsys.readouterr().err.splitlines()
    assert warning.startswith(f"warning: {root / V1_MEMORY}{CONTAINER}/{shown}")


def test_malformed_only_level_means_no_limit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _v2(tmp_path, {f"{V2}/cpu.max": "lots 100000", f"{V2}/memory.max": "lots"}, cgroup="/")
    assert (cpu_limit(root, affinity=4), memory_limit(root)) == (CpuLimit(4, None), None)
    assert len(capsys.readouterr().err.splitlines()) == 2


def test_long_or_multiline_value_stays_one_short_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _v2(tmp_path, {f"{V2}/cpu.max": "x" * 500 + "\n" + "y" * 500}, cgroup="/")
    assert cpu_quota(root) is None
    (warning,) = capsys.readouterr().err.splitlines()
    assert f"ignoring '{'x' * 80}...'" in warning
    assert warning.endswith("...', expected 'max PERIOD' or 'QUOTA PERIOD' with whole numbers above 0")


def test_unreadable_file_warns_and_the_parent_counts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _v2(tmp_path, {f"{V2}/kubepods/cpu.max": "50000 100000"})
    (root / V2 / CONTAINER.lstrip("/") / "cpu.max").mkdir(parents=True)  # reading it fails with EISDIR
    assert cpu_quota(root) == 0.5
    (warning,) = capsys.readouterr().err.splitlines()
    assert warning == f"warning: {root / V2}{CONTAINER}/cpu.max: cannot be read (Is a directory), ignoring it"


def test_not_utf8_file_warns(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _v2(tmp_path, {f"{V2}/memory.max": ""}, cgroup="/")
    (root / V2 / "memory.max").write_bytes(b"\xff\xfe\n")
    assert memory_limit(root) is None
    assert capsys.readouterr().err.splitlines() == [
        f"warning: {root / V2}/memory.max: cannot be read (UnicodeDecodeError), ignoring it"
    ]


# The CPU count from affinity and quota.


@pytest.mark.parametrize(
    ("affinity", "quota", "count"),
    [(64, None, 64), (64, 1.0, 1), (64, 0.5, 1), (64, 2.5, 3), (1, 4.0, 1), (2, 0.01, 1)],
)
def test_cpu_count_is_the_smaller_of_affinity_and_rounded_up_quota(
    affinity: int, quota: float | None, count: int
) -> None:
    assert CpuLimit(affinity, quota).cpus == count


def test_cpu_limit_combines_cpuset_and_quota(tmp_path: Path) -> None:
    root = _v2(tmp_path, {f"{V2}/cpu.max": "200000 100000"}, cgroup="/")
    assert cpu_limit(root, affinity=1) == CpuLimit(1, 2.0)
    assert cpu_limit(root, affinity=1).cpus == 1


def test_cpu_limit_reads_this_processes_affinity(tmp_path: Path) -> None:
    assert cpu_limit(tmp_path) == CpuLimit(len(os.sched_getaffinity(0)), None)
