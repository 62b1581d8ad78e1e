"""The facts about this machine that a benchmark result is meaningless without."""

from __future__ import annotations

import os
import platform
import subprocess
from dataclasses import dataclass
from pathlib import Path

from python_on_whales import docker


@dataclass(frozen=True)
class Machine:
    cpu_model: str
    cpus: int
    memory_gib: float
    kernel: str
    engine: str
    wrk: str
    commit: str


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _memory_gib() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return round(int(line.split()[1]) / 1024 / 1024, 1)
    return 0.0


def _first_line(command: list[str], cwd: Path | None = None) -> str:
    completed = subprocess.run(command, capture_output=True, text=True, cwd=cwd, check=False)
    output = (completed.stdout or completed.stderr).strip()
    return output.splitlines()[0] if output else "unknown"


def describe_machine(repo: Path) -> Machine:
    version = docker.version()
    server = version.server.version if version.server else "unknown"
    return Machine(
        cpu_model=_cpu_model(),
        cpus=os.cpu_count() or 0,
        memory_gib=_memory_gib(),
        kernel=platform.release(),
        engine=f"Docker {server}, buildx {str(docker.buildx.version()).split()[1]}",
        wrk=_first_line(["wrk", "--version"]).split(" Copyright")[0],
        commit=_first_line(["git", "rev-parse", "--short", "HEAD"], cwd=repo),
    )
