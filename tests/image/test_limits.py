"""The automatic worker count follows the container's CPU and memory limits, not the host's."""

from __future__ import annotations

import pytest

from tests.image.conftest import ImageUnderTest
from tests.image.server import MANAGERS, serve

GUNICORN = MANAGERS["gunicorn"]
PER_CORE = {"WORKERS_PER_CORE": "3"}


def test_without_limits_all_host_cpus_count(image: ImageUnderTest, platform: str) -> None:
    with serve(image.image_id, platform, env=PER_CORE) as server:
        cpus = server.cpu_count()
        server.wait_for_log(GUNICORN.worker_started, times=3 * cpus)
        workers = server.settings()["workers"]
        assert server.worker_count() == 3 * cpus
    assert workers["cpu_quota"] is None  # type: ignore[index]


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
    assert workers["cpus"] == 1  # type: ignore[index]
    assert workers["count"] == 3  # type: ignore[index]
    assert workers["cpu_quota"] == quota  # type: ignore[index]
    if affinity is not None:
        assert workers["cpu_affinity"] == affinity  # type: ignore[index]


def test_memory_limit_caps_the_count(image: ImageUnderTest, platform: str) -> None:
    env = {**PER_CORE, "MEMORY_PER_WORKER_MB": "256"}
    with serve(image.image_id, platform, env=env, options={"mem_limit": "1g", "cpuset_cpus": "0,1"}) as server:
        server.wait_for_log(GUNICORN.worker_started, times=4)
        workers = server.settings()["workers"]
        assert server.worker_count() == 4  # 1024 MiB / 256 MiB, below 3 x 2 CPUs
    assert workers["memory_limit_mb"] == 1024  # type: ignore[index]
    assert "memory" in workers["rule"]  # type: ignore[index]


def test_web_concurrency_wins_over_the_memory_cap(image: ImageUnderTest, platform: str) -> None:
    env = {"WEB_CONCURRENCY": "5", "MEMORY_PER_WORKER_MB": "512"}
    with serve(image.image_id, platform, env=env, options={"mem_limit": "1g"}) as server:
        server.wait_for_log(GUNICORN.worker_started, times=5)
        assert server.worker_count() == 5
