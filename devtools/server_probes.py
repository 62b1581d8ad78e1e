"""How the image tests and the benchmark read a running server of the image: the settings
line it prints at start, which processes are its workers, and their memory. Each harness
gives two things, its container's output and Python run inside the container; the reading
itself is here, once."""

from __future__ import annotations

import json
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

from bake.errors import BakeError

# The launcher (or /gunicorn_conf.py) prints the effective settings as one JSON line.
SETTINGS_LINE = re.compile(r"^\{.*\"workers\".*\}$", re.MULTILINE)

# Runs inside the container. PID 1 is the process manager and its children are the workers,
# except multiprocessing's resource tracker, which Uvicorn's manager may start, and zombies:
# a killed worker stays in /proc, in state Z, until its manager reaps it.
_DEFINE_PROCESSES = """
import json, os
def _stat_and_command(pid):
    with open(f"/proc/{pid}/stat") as stat, open(f"/proc/{pid}/cmdline", "rb") as cmdline:
        return stat.read().rsplit(")", 1)[1].split(), cmdline.read()
def processes():
    found = []
    for pid in sorted(int(name) for name in os.listdir("/proc") if name.isdigit()):
        try:
            stat, command = _stat_and_command(pid)
        except OSError:  # it exited meanwhile
            continue
        words = command.decode(errors="replace").replace("\\0", " ").split()
        found.append((pid, int(stat[1]), stat[0], " ".join(words)))
    return found
def worker_pids(manager):
    return [
        pid
        for pid, parent, state, command in processes()
        if parent == manager and state not in ("Z", "X") and "resource_tracker" not in command
    ]
def memory_kib(pid):
    fields = {}
    with open(f"/proc/{pid}/smaps_rollup") as rollup:
        for line in rollup:
            name, _, rest = line.partition(":")
            if name in ("Rss", "Pss"):
                fields[name.lower()] = int(rest.split()[0])
    return fields
"""


class ServerReadError(BakeError):
    """The server did not print what a server of the image prints."""


@dataclass(frozen=True)
class ProcessMemory:
    pid: int
    rss_kib: int
    pss_kib: int


class ServerReader(ABC):
    """A running server of the image, as the tests and the benchmark read it."""

    manager_pid = 1  # the process manager's, in the image

    @abstractmethod
    def logs(self) -> str:
        """Everything the container has printed so far."""

    @abstractmethod
    def python(self, source: str) -> str:
        """What `python -c source`, run inside the container, printed; it must succeed."""

    def settings(self) -> dict[str, Any]:
        """The effective settings the server printed at start."""
        logs = self.logs()
        match = SETTINGS_LINE.search(logs)
        if match is None:
            raise ServerReadError(f"no settings line in the output:\n{logs}")
        settings: dict[str, Any] = json.loads(match.group(0))
        return settings

    def worker_pids(self) -> list[int]:
        source = f"print(json.dumps(worker_pids({self.manager_pid})))"
        pids: list[int] = json.loads(self.python(_DEFINE_PROCESSES + source))
        return pids

    def worker_count(self) -> int:
        return len(self.worker_pids())

    def processes(self) -> str:
        """pid, parent pid, state and command line of every process, for failure messages."""
        return self.python(_DEFINE_PROCESSES + "for process in processes(): print(*process)")

    def memory(self) -> tuple[ProcessMemory, list[ProcessMemory]]:
        """The process manager's (PID 1) memory, and each worker's, read at one moment."""
        pids = f"[{self.manager_pid}, *worker_pids({self.manager_pid})]"
        source = f"print(json.dumps([[pid, memory_kib(pid)] for pid in {pids}]))"
        read = json.loads(self.python(_DEFINE_PROCESSES + source))
        manager, *workers = [ProcessMemory(pid, fields["rss"], fields["pss"]) for pid, fields in read]
        return manager, workers
