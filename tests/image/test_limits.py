"""The automatic worker count follows the container's CPU and memory limits, not the host's."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from testcontainers.core.docker_client import DockerClient

from tests.conftest import ImageUnderTest
from tests.image.server import MANAGERS, Server, bind_mount, serve

GUNICORN = MANAGERS["gunicorn"]
PER_CORE = {"WORKERS_PER_CORE": "3"}
MIB = 1 << 20


def _assert_workers_settle_at(server: Server, expected: int) -> None:
    server.wait_for_log(GUNICORN.worker_started, times=expected)
    assert server.worker_count_once_settled(expected) == expected, server.processes()


def test_without_limits_all_host_cpus_count(image: ImageUnderTest, platform: str) -> None:
    with serve(image.image_id, platform, env=PER_CORE) as server:
        cpus = server.usable_cpus()
        _assert_workers_settle_at(server, 3 * cpus)
        workers = server.settings()["workers"]
    assert workers["cpu_quota"] is None
    assert workers["cpus"] == cpus


@pytest.mark.parametrize(
    ("options", "quota", "affinity"),
    [
        pytest.param({"nano_cpus": 1_000_000_000}, 1.0, None, id="--cpus=1", marks=pytest.mark.every_platform),
        pytest.param({"nano_cpus": 500_000_000}, 0.5, None, id="--cpus=0.5"),
        pytest.param({"cpuset_cpus": "0"}, None, 1, id="--cpuset-cpus=0"),
    ],
)
def test_cpu_limit_sets_the_count(
    image: ImageUnderTest, platform: str, options: dict[str, object], quota: float | None, affinity: int | None
) -> None:
    # Each limit leaves one CPU: ceil(1), ceil(0.5) or one CPU in the set.
    with serve(image.image_id, platform, env=PER_CORE, options=options) as server:
        assert server.usable_cpus() == 1
        _assert_workers_settle_at(server, 3)
        workers = server.settings()["workers"]
    assert workers["cpus"] == 1
    assert workers["count"] == 3
    assert workers["cpu_quota"] == quota
    if affinity is not None:
        assert workers["cpu_affinity"] == affinity


def test_memory_limit_caps_the_count(image: ImageUnderTest, platform: str) -> None:
    env = {**PER_CORE, "MEMORY_PER_WORKER_MB": "256"}
    with serve(image.image_id, platform, env=env, options={"mem_limit": "1g", "cpuset_cpus": "0,1"}) as server:
        assert server.usable_cpus() == 2
        _assert_workers_settle_at(server, 4)  # 1024 MiB / 256 MiB, below 3 x 2 CPUs
        workers = server.settings()["workers"]
    assert workers["memory_limit_mb"] == 1024
    assert "memory" in workers["rule"]


def test_web_concurrency_wins_over_the_memory_cap(image: ImageUnderTest, platform: str) -> None:
    env = {"WEB_CONCURRENCY": "5", "MEMORY_PER_WORKER_MB": "512"}
    with serve(image.image_id, platform, env=env, options={"mem_limit": "1g"}) as server:
        _assert_workers_settle_at(server, 5)


# Where the limit sits in the cgroup tree: on a parent of the container's cgroup (a Kubernetes
# pod, `--cgroup-parent`, Docker in Docker), or seen through the host's cgroup namespace.
PERIOD_US = 100_000
PARENT_QUOTA_US = 50_000  # half a CPU
PARENT_MEMORY_MB = 768
CGROUP_ROOT = Path("/sys/fs/cgroup")


def _engine_cgroups() -> tuple[str, str]:
    """The engine's cgroup version ("1" or "2") and its cgroup driver ("cgroupfs" or "systemd")."""
    info = DockerClient().client.info()
    return str(info["CgroupVersion"]), str(info["CgroupDriver"])


def _cgroup_version() -> str:
    return _engine_cgroups()[0]


@dataclass(frozen=True)
class ParentCgroup:
    option: str  # what `cgroup_parent` takes: a cgroup path (cgroupfs driver) or a slice (systemd driver)
    path: str  # the cgroup itself, as /proc/PID/cgroup names it


def _need_write_access(*directories: Path) -> None:
    for directory in directories:
        if not os.access(directory, os.W_OK):
            pytest.skip(f"a parent cgroup is made in {directory}, which needs write access (root)")


@contextmanager
def _v1_parent(name: str) -> Iterator[ParentCgroup]:
    cpu, memory = CGROUP_ROOT / "cpu", CGROUP_ROOT / "memory"
    _need_write_access(cpu, memory)
    try:
        (cpu / name).mkdir()
        (cpu / name / "cpu.cfs_period_us").write_text(f"{PERIOD_US}\n")
        (cpu / name / "cpu.cfs_quota_us").write_text(f"{PARENT_QUOTA_US}\n")
        (memory / name).mkdir()
        (memory / name / "memory.limit_in_bytes").write_text(f"{PARENT_MEMORY_MB * MIB}\n")
        yield ParentCgroup(f"/{name}", f"/{name}")
    finally:
        # The engine creates the parent in every other hierarchy too; the containers' own
        # cgroups under it are gone once the containers are removed.
        for directory in {path.resolve() for path in CGROUP_ROOT.glob(f"*/{name}")}:
            directory.rmdir()


@contextmanager
def _v2_parent(name: str) -> Iterator[ParentCgroup]:
    _need_write_access(CGROUP_ROOT)
    handed_down = (CGROUP_ROOT / "cgroup.subtree_control").read_text().split()
    if not {"cpu", "memory"} <= set(handed_down):
        pytest.skip(f"the root cgroup does not hand the cpu and memory controllers down: {handed_down}")
    parent = CGROUP_ROOT / name
    parent.mkdir()
    try:
        (parent / "cpu.max").write_text(f"{PARENT_QUOTA_US} {PERIOD_US}\n")
        (parent / "memory.max").write_text(f"{PARENT_MEMORY_MB * MIB}\n")
        yield ParentCgroup(f"/{name}", f"/{name}")
    finally:
        parent.rmdir()  # the engine removes the containers' cgroups under it with the containers


def _systemctl(*args: str) -> None:
    subprocess.run(["systemctl", *args], check=True, capture_output=True)


@contextmanager
def _systemd_slice(name: str) -> Iterator[ParentCgroup]:
    """With the systemd driver a parent is a slice, and its limits are systemd's settings: a
    value written into the slice's cgroup by hand would be undone by systemd's next reload."""
    units = Path("/run/systemd/system")  # the runtime units, gone at the next boot
    if shutil.which("systemctl") is None:
        pytest.skip("the engine's cgroup driver is systemd, but there is no systemctl here")
    _need_write_access(units)
    unit = units / f"{name}.slice"
    cpu_percent = 100 * PARENT_QUOTA_US // PERIOD_US
    unit.write_text(f"[Slice]\nCPUQuota={cpu_percent}%\nMemoryMax={PARENT_MEMORY_MB}M\n")
    try:
        _systemctl("daemon-reload")
        _systemctl("start", unit.name)
        yield ParentCgroup(unit.name, f"/{unit.name}")
    finally:
        _systemctl("stop", unit.name)
        unit.unlink()
        _systemctl("daemon-reload")


@pytest.fixture
def parent_cgroup() -> Iterator[ParentCgroup]:
    """A cgroup on this host with a CPU quota and a memory limit, for `cgroup_parent`; removed
    afterwards. Made as the engine's cgroup driver and the host's cgroup version want it."""
    version, driver = _engine_cgroups()
    # No "-": in a systemd slice's name it would mean a slice nested in another.
    name = f"ugtestparent{uuid.uuid4().hex[:8]}"
    make = _systemd_slice if driver == "systemd" else _v1_parent if version == "1" else _v2_parent
    with make(name) as parent:
        yield parent


def _cgroup_of_pid_1(server: Server, controller: str) -> str:
    """PID 1's cgroup in the v1 hierarchy of `controller`, else in the one hierarchy of v2."""
    entries = [line.split(":", 2) for line in server.run("cat", "/proc/1/cgroup").splitlines()]
    for wanted in (lambda controllers: controller in controllers.split(","), lambda controllers: controllers == ""):
        for _, controllers, path in entries:
            if wanted(controllers):
                return path
    raise AssertionError(f"no {controller} line in /proc/1/cgroup: {entries}")


def test_host_cgroup_namespace_reads_the_containers_own_limits(image: ImageUnderTest, platform: str) -> None:
    env = {**PER_CORE, "MEMORY_PER_WORKER_MB": "256"}
    options = {"cgroupns": "host", "nano_cpus": 1_000_000_000, "mem_limit": "1g"}
    with serve(image.image_id, platform, env=env, options=options) as server:
        _assert_workers_settle_at(server, 3)
        workers = server.settings()["workers"]
        cgroup = _cgroup_of_pid_1(server, "memory")
    assert cgroup != "/", "in the host's cgroup namespace the container's cgroup shows its full path"
    assert workers["cpu_quota"] == 1.0
    assert workers["memory_limit_mb"] == 1024
    assert workers["count"] == 3


def test_limits_of_a_parent_cgroup_apply(image: ImageUnderTest, platform: str, parent_cgroup: ParentCgroup) -> None:
    env = {**PER_CORE, "MEMORY_PER_WORKER_MB": "256"}
    # The container has no limits of its own; it is in the host's cgroup namespace (cgroup v1's
    # default: v2 would give it one whose root is its own cgroup, with nothing above in sight).
    # cgroup v1 still mounts only the container's own cgroup: the parent's CPU quota file is out
    # of sight, and memory.stat's hierarchical_memory_limit carries the parent's memory limit
    # down. cgroup v2 mounts the whole tree there, the parent's files included.
    options = {"cgroup_parent": parent_cgroup.option, "cgroupns": "host"}
    with serve(image.image_id, platform, env=env, options=options) as server:
        _assert_workers_settle_at(server, PARENT_MEMORY_MB // 256)
        workers = server.settings()["workers"]
        cgroup = _cgroup_of_pid_1(server, "memory")
    assert cgroup.startswith(f"{parent_cgroup.path}/")
    assert workers["memory_limit_mb"] == PARENT_MEMORY_MB
    assert workers["cpu_quota"] == (None if _cgroup_version() == "1" else PARENT_QUOTA_US / PERIOD_US)
    assert workers["count"] == PARENT_MEMORY_MB // 256


def test_the_smallest_limit_along_the_cgroup_path_wins(
    image: ImageUnderTest, platform: str, parent_cgroup: ParentCgroup
) -> None:
    # The host's whole cgroup tree, as Docker in Docker or a privileged agent sees it: the
    # container's cgroup is a deep path under a mount of the root. Its own memory limit (1 GiB)
    # is larger than its parent's; it has no CPU quota of its own (cgroup v1 refuses a child
    # a larger quota than its parent's).
    options = {
        "cgroup_parent": parent_cgroup.option,
        "cgroupns": "host",
        "mounts": [bind_mount(CGROUP_ROOT, "/sys/fs/cgroup")],
        "mem_limit": "1g",
    }
    with serve(image.image_id, platform, env=PER_CORE, options=options) as server:
        _assert_workers_settle_at(server, 3)
        workers = server.settings()["workers"]
    assert workers["cpu_quota"] == PARENT_QUOTA_US / PERIOD_US
    assert workers["cpus"] == 1
    assert workers["memory_limit_mb"] == PARENT_MEMORY_MB
    assert workers["count"] == 3


def test_a_malformed_cgroup_value_warns_and_is_ignored(image: ImageUnderTest, platform: str, tmp_path: Path) -> None:
    quota_file = "/sys/fs/cgroup/cpu/cpu.cfs_quota_us" if _cgroup_version() == "1" else "/sys/fs/cgroup/cpu.max"
    garbage = tmp_path / "garbage"
    garbage.write_text("1O0000\n")
    options = {"nano_cpus": 1_000_000_000, "mounts": [bind_mount(garbage, quota_file)]}
    with serve(image.image_id, platform, env=PER_CORE, options=options) as server:
        cpus = server.cpu_affinity()  # the quota is unreadable: the affinity alone counts
        _assert_workers_settle_at(server, 3 * cpus)
        workers = server.settings()["workers"]
        _, stderr = server.container.get_logs()
    warnings = {line.partition(", expected")[0] for line in stderr.decode().splitlines() if line.startswith("warning:")}
    # The start-up reads the limits twice under Gunicorn (the launcher, then /gunicorn_conf.py),
    # so the same line may come twice; it is the only warning, and there is no traceback.
    assert warnings == {f"warning: {quota_file}: ignoring '1O0000'"}, stderr.decode()
    assert "Traceback" not in stderr.decode()
    assert workers["cpu_quota"] is None
    assert workers["cpus"] == cpus
