"""The workers the server runs: how many, from the CPUs and memory the container may use, and
of which class, by name. Whether a class of the application's imports and is a Gunicorn
worker is checked where Gunicorn loads it (see worker_class)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import NamedTuple

from uvicorn_gunicorn_runtime.environment import Environment, decimal_times, invalid
from uvicorn_gunicorn_runtime.limits import CpuLimit

DEFAULT_WORKER_CLASS = "uvicorn_worker.UvicornWorker"
H11_WORKER_CLASS = "uvicorn_worker.UvicornH11Worker"
UVICORN_WORKER_CLASSES = (DEFAULT_WORKER_CLASS, H11_WORKER_CLASS)
# The original image's names, from Uvicorn's own uvicorn.workers module (deprecated upstream).
ORIGINAL_WORKER_CLASSES: Mapping[str, str] = MappingProxyType(
    {
        "uvicorn.workers.UvicornWorker": DEFAULT_WORKER_CLASS,
        "uvicorn.workers.UvicornH11Worker": H11_WORKER_CLASS,
    }
)
# Compiled on first use, by re's own cache: WORKER_CLASS is often unset.
CLASS_PATH = r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+"
WORKER_CLASS_FORM = f"a Gunicorn worker class as module.Class, such as {DEFAULT_WORKER_CLASS}"
# One worker serving the sample app, after 2,000 requests, measured 29 MiB RSS (16 MiB PSS)
# on linux/amd64 (see the README); the budget leaves about 100 MiB for the application.
DEFAULT_MEMORY_PER_WORKER_MB = 128
MIB = 1 << 20


class WorkerPlan(NamedTuple):
    count: int  # type: ignore[assignment]  # the plan's number of workers, over tuple.count, which no one calls on a plan
    rule: str  # how the count was reached, for the start-up line
    cpu_affinity: int
    cpu_quota: float | None
    cpus: int
    memory_limit_mb: int | None
    memory_per_worker_mb: int


def plan_workers(env: Environment, cpu: CpuLimit, memory_limit: int | None) -> WorkerPlan:
    """WEB_CONCURRENCY, else WORKERS_PER_CORE x CPUs (at least 2), capped by MAX_WORKERS and by
    the memory limit (`memory_limit`, bytes) over MEMORY_PER_WORKER_MB."""
    per_core = env.positive_decimal("WORKERS_PER_CORE", "1")
    max_workers = env.optional_integer("MAX_WORKERS", minimum=1)
    web_concurrency = env.optional_integer("WEB_CONCURRENCY", minimum=1)
    per_worker_mb = env.integer("MEMORY_PER_WORKER_MB", DEFAULT_MEMORY_PER_WORKER_MB, minimum=1)
    limit_mb = memory_limit // MIB if memory_limit is not None else None
    if web_concurrency is not None:
        count, rule = web_concurrency, "WEB_CONCURRENCY"
    else:
        count = max(decimal_times(per_core, cpu.cpus), 2)
        rule = f"max(2, int(WORKERS_PER_CORE {per_core} x {cpu.cpus} CPUs))"
        if max_workers is not None and max_workers < count:
            count, rule = max_workers, f"MAX_WORKERS {max_workers}"
        if limit_mb is not None and limit_mb // per_worker_mb < count:
            count = max(1, limit_mb // per_worker_mb)
            rule = f"memory: {limit_mb} MiB limit / MEMORY_PER_WORKER_MB {per_worker_mb}"
    return WorkerPlan(count, rule, cpu.affinity, cpu.quota, cpu.cpus, limit_mb, per_worker_mb)


def worker_class_path(value: str) -> str | None:
    """The class Gunicorn is to load for a worker class as written: an original image's name
    becomes uvicorn-worker's; None when it is not written as module.Class."""
    path = ORIGINAL_WORKER_CLASSES.get(value, value)
    return path if re.fullmatch(CLASS_PATH, path) else None


def renamed_worker_class_notice(value: object, named_by: str) -> str | None:
    """The one line saying that a worker class of the original image was replaced, if it was."""
    if not isinstance(value, str) or value not in ORIGINAL_WORKER_CLASSES:
        return None
    return (
        f"notice: {named_by} is the original image's name; using {ORIGINAL_WORKER_CLASSES[value]}"
        " (Uvicorn's uvicorn.workers module is deprecated)"
    )


def worker_class_from(env: Environment) -> str:
    """WORKER_CLASS as the class path to load, else the image's default."""
    value = env.text("WORKER_CLASS")
    if value is None:
        return DEFAULT_WORKER_CLASS
    path = worker_class_path(value)
    if path is None:
        raise invalid("WORKER_CLASS", value, WORKER_CLASS_FORM)
    return path
