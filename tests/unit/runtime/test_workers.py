from __future__ import annotations

import pytest
from uvicorn_gunicorn_runtime.environment import Environment
from uvicorn_gunicorn_runtime.limits import CpuLimit
from uvicorn_gunicorn_runtime.workers import (
    DEFAULT_MEMORY_PER_WORKER_MB,
    ORIGINAL_WORKER_CLASSES,
    plan_workers,
    renamed_worker_class_notice,
    worker_class_from,
    worker_class_path,
)

from tests.unit.runtime.readings import setting_error

TWO_CPUS = CpuLimit(2, None)
GIB = 1 << 30


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"WORKERS_PER_CORE": "abc"}, "WORKERS_PER_CORE='abc' is not valid: expected a number above 0"),
        ({"WORKERS_PER_CORE": "0"}, "WORKERS_PER_CORE='0' is not valid"),
        ({"WORKERS_PER_CORE": "nan"}, "WORKERS_PER_CORE='nan' is not valid"),
        ({"WORKERS_PER_CORE": "1e1"}, "WORKERS_PER_CORE='1e1' is not valid: expected a number above 0"),
        ({"WORKERS_PER_CORE": "+1"}, "WORKERS_PER_CORE='+1' is not valid"),
        ({"WORKERS_PER_CORE": " 1"}, "WORKERS_PER_CORE=' 1' is not valid"),
        ({"WORKERS_PER_CORE": "1_0"}, "WORKERS_PER_CORE='1_0' is not valid"),
        ({"WORKERS_PER_CORE": "inf"}, "WORKERS_PER_CORE='inf' is not valid"),
        ({"WORKERS_PER_CORE": "-1"}, "WORKERS_PER_CORE='-1' is not valid"),
        ({"WORKERS_PER_CORE": "0.00"}, "WORKERS_PER_CORE='0.00' is not valid"),
        ({"WORKERS_PER_CORE": "."}, "WORKERS_PER_CORE='.' is not valid"),
        ({"WEB_CONCURRENCY": "0"}, "WEB_CONCURRENCY='0' is not valid: expected a whole number from 1 up"),
        ({"WEB_CONCURRENCY": "2.5"}, "WEB_CONCURRENCY='2.5' is not valid"),
        ({"WEB_CONCURRENCY": "1_000"}, "WEB_CONCURRENCY='1_000' is not valid: expected a whole number from 1 up"),
        ({"WEB_CONCURRENCY": "+3"}, "WEB_CONCURRENCY='+3' is not valid"),
        ({"WEB_CONCURRENCY": " 8 "}, "WEB_CONCURRENCY=' 8 ' is not valid"),
        ({"WEB_CONCURRENCY": "\u0663"}, "WEB_CONCURRENCY='\u0663' is not valid"),  # ARABIC-INDIC DIGIT THREE
        ({"MAX_WORKERS": "-1"}, "MAX_WORKERS='-1' is not valid"),
        ({"MAX_WORKERS": "1e3"}, "MAX_WORKERS='1e3' is not valid"),
        ({"MEMORY_PER_WORKER_MB": "lots"}, "MEMORY_PER_WORKER_MB='lots' is not valid"),
    ],
)
def test_bad_worker_counts_are_named_in_one_line(env: dict[str, str], message: str) -> None:
    assert setting_error(lambda: plan_workers(Environment(env), TWO_CPUS, None)).startswith(message)


@pytest.mark.parametrize(
    ("env", "cpu", "memory", "count"),
    [
        ({}, CpuLimit(1, None), None, 2),
        ({}, CpuLimit(8, None), None, 8),
        ({"WORKERS_PER_CORE": "0.5"}, CpuLimit(8, None), None, 4),
        ({"WORKERS_PER_CORE": "3"}, CpuLimit(64, 1.0), None, 3),
        # Exact decimal arithmetic: as floats, 0.57 x 100 and 0.29 x 100 truncate to 56 and 28.
        ({"WORKERS_PER_CORE": "0.57"}, CpuLimit(100, None), None, 57),
        ({"WORKERS_PER_CORE": "0.29"}, CpuLimit(100, None), None, 29),
        ({"WORKERS_PER_CORE": "2.5"}, CpuLimit(3, None), None, 7),
        ({"WORKERS_PER_CORE": ".5"}, CpuLimit(9, None), None, 4),
        ({"WORKERS_PER_CORE": "3."}, CpuLimit(2, None), None, 6),
        ({"WORKERS_PER_CORE": "0.01"}, CpuLimit(8, None), None, 2),
        ({"MAX_WORKERS": "4"}, CpuLimit(64, None), None, 4),
        ({"MAX_WORKERS": "1"}, CpuLimit(2, None), None, 1),
        ({"WEB_CONCURRENCY": "7", "MAX_WORKERS": "2"}, CpuLimit(2, None), None, 7),
        ({}, CpuLimit(64, None), 1 * GIB, 1024 // DEFAULT_MEMORY_PER_WORKER_MB),
        ({"MEMORY_PER_WORKER_MB": "300"}, CpuLimit(8, None), 1 * GIB, 3),
        ({"MEMORY_PER_WORKER_MB": "300"}, CpuLimit(8, None), 100 << 20, 1),
        ({"WEB_CONCURRENCY": "6", "MEMORY_PER_WORKER_MB": "300"}, CpuLimit(8, None), 1 * GIB, 6),
    ],
)
def test_worker_plan(env: dict[str, str], cpu: CpuLimit, memory: int | None, count: int) -> None:
    assert plan_workers(Environment(env), cpu, memory).count == count


def test_worker_plan_records_its_inputs() -> None:
    plan = plan_workers(Environment({"MEMORY_PER_WORKER_MB": "256"}), CpuLimit(4, 0.5), 512 << 20)
    assert (plan.cpu_affinity, plan.cpu_quota, plan.cpus) == (4, 0.5, 1)
    assert (plan.memory_limit_mb, plan.memory_per_worker_mb, plan.count) == (512, 256, 2)
    assert plan.rule.startswith("max(2")


@pytest.mark.parametrize(
    ("env", "cpu", "memory", "rule"),
    [
        ({"WEB_CONCURRENCY": "5"}, TWO_CPUS, None, "WEB_CONCURRENCY"),
        ({"WORKERS_PER_CORE": "1.5"}, CpuLimit(4, None), None, "max(2, int(WORKERS_PER_CORE 1.5 x 4 CPUs))"),
        ({"MAX_WORKERS": "3"}, CpuLimit(8, None), None, "MAX_WORKERS 3"),
        ({}, CpuLimit(8, None), 256 << 20, "memory: 256 MiB limit / MEMORY_PER_WORKER_MB 128"),
    ],
)
def test_worker_plan_says_which_rule_counted(env: dict[str, str], cpu: CpuLimit, memory: int | None, rule: str) -> None:
    assert plan_workers(Environment(env), cpu, memory).rule == rule


@pytest.mark.parametrize(
    ("env", "worker_class"),
    [
        ({}, "uvicorn_worker.UvicornWorker"),
        ({"WORKER_CLASS": "uvicorn_worker.UvicornH11Worker"}, "uvicorn_worker.UvicornH11Worker"),
        # The original image's names (its README's own example) become uvicorn-worker's.
        ({"WORKER_CLASS": "uvicorn.workers.UvicornWorker"}, "uvicorn_worker.UvicornWorker"),
        ({"WORKER_CLASS": "uvicorn.workers.UvicornH11Worker"}, "uvicorn_worker.UvicornH11Worker"),
        # Any class path: whether it imports and is a Gunicorn worker is checked where Gunicorn loads it.
        ({"WORKER_CLASS": "app.workers.MyWorker"}, "app.workers.MyWorker"),
    ],
)
def test_worker_class(env: dict[str, str], worker_class: str) -> None:
    assert worker_class_from(Environment(env)) == worker_class


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"WORKER_CLASS": "sync"},
            "WORKER_CLASS='sync' is not valid: expected a Gunicorn worker class as module.Class, "
            "such as uvicorn_worker.UvicornWorker",
        ),
        ({"WORKER_CLASS": "my-workers.Worker"}, "WORKER_CLASS='my-workers.Worker' is not valid"),
        ({"WORKER_CLASS": "uvicorn.workers."}, "WORKER_CLASS='uvicorn.workers.' is not valid"),
    ],
)
def test_bad_worker_class_in_one_line(env: dict[str, str], message: str) -> None:
    assert setting_error(lambda: worker_class_from(Environment(env))).startswith(message)


@pytest.mark.parametrize("value", ["sync", "Worker", "app.", "my-workers.Worker", "uvicorn.workers.UvicornWorker\n"])
def test_a_worker_class_not_written_as_module_class_has_no_path(value: str) -> None:
    assert worker_class_path(value) is None


def test_notice_for_the_original_worker_class_names() -> None:
    named_by = "WORKER_CLASS='uvicorn.workers.UvicornH11Worker'"
    assert renamed_worker_class_notice("uvicorn.workers.UvicornH11Worker", named_by) == (
        "notice: WORKER_CLASS='uvicorn.workers.UvicornH11Worker' is the original image's name; "
        "using uvicorn_worker.UvicornH11Worker (Uvicorn's uvicorn.workers module is deprecated)"
    )
    for value in ("uvicorn_worker.UvicornWorker", "app.workers.MyWorker", None, object):
        assert renamed_worker_class_notice(value, "x") is None


def test_the_original_names_cannot_be_changed_at_run_time() -> None:
    with pytest.raises(TypeError):
        ORIGINAL_WORKER_CLASSES["my.Worker"] = "other.Worker"  # type: ignore[index]
