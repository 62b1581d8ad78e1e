"""How the image tests and the benchmark read a running server: the settings line it prints
at start, and (as Python source run inside the container) which processes are its workers."""

from __future__ import annotations

import json
import re
from typing import Any

# The launcher (or /gunicorn_conf.py) prints the effective settings as one JSON line.
SETTINGS_LINE = re.compile(r"^\{.*\"workers\".*\}$", re.MULTILINE)


def settings_in(output: str) -> dict[str, Any] | None:
    """The settings a server printed at start, found in its `output`; None if it printed none."""
    match = SETTINGS_LINE.search(output)
    if match is None:
        return None
    settings: dict[str, Any] = json.loads(match.group(0))
    return settings


# PID 1 is the process manager and its children are the workers, except multiprocessing's
# resource tracker, which Uvicorn's manager may start. Defines worker_pids() -> list[int].
DEFINE_WORKER_PIDS = """
import os
def _parent_and_command(pid):
    with open(f"/proc/{pid}/stat") as stat, open(f"/proc/{pid}/cmdline", "rb") as cmdline:
        return stat.read().rsplit(")", 1)[1].split()[1], cmdline.read()
def worker_pids():
    pids = []
    for pid in sorted(int(name) for name in os.listdir("/proc") if name.isdigit()):
        try:
            parent, command = _parent_and_command(pid)
        except OSError:  # it exited meanwhile
            continue
        if parent == "1" and b"resource_tracker" not in command:
            pids.append(pid)
    return pids
"""
