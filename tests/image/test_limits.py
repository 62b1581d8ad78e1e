"""The automatic worker count follows the container's CPU and memory limits, not the host's."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from python_on_whales import docker
from testcontainers.core.docker_client import DockerClient

from tests.image.conftest import ImageUnderTest
from tests.image.server import MANAGERS, Server, serve

GUNICORN = MANAGERS["gunicorn"]
PER_CORE = {"WORKERS_PER_CORE": "3"}
MIB = 1 << 20


def test_without_limits_all_host_cpus_count(image: ImageUnderTest, platform: str) -> None:
    with serve(image.image_id, platform, env=PER_CORE) as server:
        cpus = server.cpu_count()
        server.wait_for_log(GUNICORN.worker_started, times=3 * cpus)
        workers = server.settings()["workers"]
        assert server.worker_count() == 3 * cpus
    assert workers["cpu_quota"] is None


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
        server.wait_for_log(GUNICORN.worker_started, times=3)
        workers = server.settings()["workers"]
        assert server.worker_count() == 3
    assert workers["cpus"] == 1
    assert workers["count"] == 3
    assert workers["cpu_quota"] == quota
    if affinity is not None:
        assert workers["cpu_affinity"] == affinity


def test_memory_limit_caps_the_count(image: ImageUnderTest, platform: str) -> None:
    env = {**PER_CORE, "MEMORY_PER_WORKER_MB": "256"}
    with serve(image.image_id, platform, env=env, options={"mem_limit": "1g", "cpuset_cpus": "0,1"}) as server:
        server.wait_for_log(GUNICORN.worker_started, times=4)
        workers = server.settings()["workers"]
        assert server.worker_count() == 4  # 1024 MiB / 256 MiB, below 3 x 2 CPUs
    assert workers["memory_limit_mb"] == 1024
    assert "memory" in workers["rule"]


def test_web_concurrency_wins_over_the_memory_cap(image: ImageUnderTest, platform: str) -> None:
    env = {"WEB_CONCURRENCY": "5", "MEMORY_PER_WORKER_MB": "512"}
    with serve(image.image_id, platform, env=env, options={"mem_limit": "1g"}) as server:
        server.wait_for_log(GUNICORN.worker_started, times=5)
        assert server.worker_count() == 5


# Where the limit sits in the cgroup tree: on a parent of the container's cgroup (a Kubernetes
# pod, `--cgroup-parent`, Docker in Docker), or seen through the host's cgroup namespace.
PARENT_QUOTA_US = 50_000  # of the default 100,000 us period: half a CPU
PARENT_MEMORY_MB = 768
V1_HIERARCHIES = Path("/sys/fs/cgroup")


def _cgroup_version() -> str:
    return str(DockerClient().client.info()["CgroupVersion"])


def _bind(source: str | Path, target: str) -> dict[str, object]:
    """A read-only bind mount, in the form of the engine's API (docker-py's `mounts`)."""
    return {"Type": "bind", "Source": str(source), "Target": target, "ReadOnly": True}


@pytest.fixture
def parent_cgroup() -> Iterator[str]:
    """A cgroup on this host with a CPU quota and a memory limit, for `cgroup_parent`; removed afterwards."""
    cpu, memory = V1_HIERARCHIES / "cpu", V1_HIERARCHIES / "memory"
    if _cgroup_version() != "1" or docker.system.info().cgroup_driver != "cgroupfs":
        pytest.skip("creates a cgroup v1 parent by hand: needs a cgroup v1 host whose engine uses the cgroupfs driver")
    if not (os.access(cpu, os.W_OK) and os.access(memory, os.W_OK)):
        pytest.skip(f"creating a parent cgroup needs write access to {cpu} and {memory} (root)")
    name = f"ugtest-parent-{uuid.uuid4().hex[:8]}"
    try:
        (cpu / name).mkdir()
        (cpu / name / "cpu.cfs_quota_us").write_text(f"{PARENT_QUOTA_US}\n")
        (memory / name).mkdir()
        (memory / name / "memory.limit_in_bytes").write_text(f"{PARENT_MEMORY_MB * MIB}\n")
        yield f"/{name}"
    finally:
        # The engine creates the parent in every other hierarchy too; the containers' own
        # cgroups under it are gone once the containers are removed.
        for directory in {path.resolve() for path in V1_HIERARCHIES.glob(f"*/{name}")}:
            directory.rmdir()


def _cgroup_of_pid_1(server: Server, controller: str) -> str:
    for line in server.run("cat", "/proc/1/cgroup").splitlines():
        _, controllers, path = line.split(":", 2)
        if controller in controllers.split(","):
            return path
    raise AssertionError(f"no {controller} line in /proc/1/cgroup")


def test_host_cgroup_namespace_reads_the_containers_own_limits(image: ImageUnderTest, platform: str) -> None:
    env = {**PER_CORE, "MEMORY_PER_WORKER_MB": "256"}
    options = {"cgroupns": "host", "nano_cpus": 1_000_000_000, "mem_limit": "1g"}
    with serve(image.image_id, platform, env=env, options=options) as server:
        server.wait_for_log(GUNICORN.worker_started, times=3)
        workers = server.settings()["workers"]
        cgroup = _cgroup_of_pid_1(server, "memory")
    assert cgroup != "/", "in the host's cgroup namespace the container's cgroup shows its full path"
    assert workers["cpu_quota"] == 1.0
    assert workers["memory_limit_mb"] == 1024
    assert workers["count"] == 3


def test_limits_of_a_parent_cgroup_apply(image: ImageUnderTest, platform: str, parent_cgroup: str) -> None:
    env = {**PER_CORE, "MEMORY_PER_WORKER_MB": "256"}
    # The container has no limits of its own. Inside it, cgroup v1 shows only its own cgroup
    # (the parent's CPU quota file is out of sight); memory.stat's hierarchical_memory_limit
    # carries the parent's memory limit down.
    with serve(image.image_id, platform, env=env, options={"cgroup_parent": parent_cgroup}) as server:
        server.wait_for_log(GUNICORN.worker_started, times=3)
        workers = server.settings()["workers"]
        cgroup = _cgroup_of_pid_1(server, "memory")
    assert cgroup.startswith(f"{parent_cgroup}/")
    assert workers["memory_limit_mb"] == PARENT_MEMORY_MB
    assert workers["count"] == PARENT_MEMORY_MB // 256


def test_the_smallest_limit_along_the_cgroup_path_wins(
    image: ImageUnderTest, platform: str, parent_cgroup: str
) -> None:
    # The host's whole cgroup tree, as Docker in Docker or a privileged agent sees it: the
    # container's cgroup is a deep path under a mount of the root. Its own memory limit (1 GiB)
    # is larger than its parent's; it has no CPU quota of its own (cgroup v1 refuses a child
    # a larger quota than its parent's).
    options = {"cgroup_parent": parent_cgroup, "mounts": [_bind("/sys/fs/cgroup", "/sys/fs/cgroup")], "mem_limit": "1g"}
    with serve(image.image_id, platform, env=PER_CORE, options=options) as server:
        server.wait_for_log(GUNICORN.worker_started, times=3)
        workers = server.settings()["workers"]
    assert workers["cpu_quota"] == PARENT_QUOTA_US / 100_000
    assert workers["cpus"] == 1
    assert workers["memory_limit_mb"] == PARENT_MEMORY_MB
    assert workers["count"] == 3


def test_a_malformed_cgroup_value_warns_and_is_ignored(image: ImageUnderTest, platform: str, tmp_path: Path) -> None:
    quota_file = "/sys/fs/cgroup/cpu/cpu.cfs_quota_us" if _cgroup_version() == "1" else "/sys/fs/cgroup/cpu.max"
    garbage = tmp_path / "garbage"
    garbage.write_text("1O0000\n")
    options = {"nano_cpus": 1_000_000_000, "mounts": [_bind(garbage, quota_file)]}
    with serve(image.image_id, platform, env=PER_CORE, options=options) as server:
        cpus = len(server.python("import os; print(*os.sched_getaffinity(0))").split())
        server.wait_for_log(GUNICORN.worker_started, times=3 * cpus)
        workers = server.settings()["workers"]
        _, stderr = server.container.get_logs()
    warnings = {line.partition(", expected")[0] for line in stderr.decode().splitlines() if line.startswith("warning:")}
    # The start-up reads the limits twice under Gunicorn (the launcher, then /gunicorn_conf.py),
    # so the same line may come twice; it is the only warning, and there is no traceback.
    assert warnings == {f"warning: {quota_file}: ignoring '1O0000'"}, stderr.decode()
    assert "Traceback" not in stderr.decode()
    assert workers["cpu_quota"] is None
    assert workers["cpus"] == cpus
