"""What the image tests leave in the engine. Ryuk, testcontainers' reaper, is off (its image
cannot be pulled here), so a run that is interrupted leaves its containers and child images
behind. Everything the tests create carries the label of their session; each session removes
at its start what sessions that are over left, and at its end its own. A session still running
beside it, on this machine, keeps its things: a session is over when its process is gone."""

from __future__ import annotations

import functools
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

SESSION_LABEL = "uvicorn-gunicorn-test.session"


@dataclass(frozen=True)
class Session:
    """One test process: the host it ran on, that host's boot, its pid and its start time
    (so that a pid used again by another process is not taken for it)."""

    host: str
    boot: str
    pid: int
    started: int  # clock ticks after boot, field 22 of /proc/PID/stat

    def __str__(self) -> str:
        return f"{self.host}/{self.boot}/{self.pid}/{self.started}"

    @classmethod
    def parse(cls, text: str) -> Session | None:
        """The session a label names; None for a value this module did not write."""
        fields = text.split("/")
        if len(fields) != 4 or not all(fields) or not (fields[2].isdigit() and fields[3].isdigit()):
            return None
        host, boot, pid, started = fields
        return cls(host, boot, int(pid), int(started))


def process_start(pid: int, proc: Path = Path("/proc")) -> int | None:
    """When the process `pid` started, in clock ticks after boot; None if there is none."""
    try:
        stat = (proc / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The command name, in parentheses, may hold spaces: the fields after it are counted from ")".
    return int(stat.rsplit(")", 1)[1].split()[19])


def this_session(proc: Path = Path("/proc")) -> Session:
    pid = os.getpid()
    started = process_start(pid, proc)
    assert started is not None, f"{proc}/{pid}/stat cannot be read"
    boot = (proc / "sys" / "kernel" / "random" / "boot_id").read_text().strip()
    return Session(socket.gethostname(), boot, pid, started)


def is_over(label: str, here: Session, start_of: Callable[[int], int | None] = process_start) -> bool:
    """Whether the session that wrote `label` has ended, as far as this host can tell: one of
    another host, or a value of another kind, is never taken for ended."""
    session = Session.parse(label)
    if session is None or session.host != here.host:
        return False
    return session.boot != here.boot or start_of(session.pid) != session.started


@functools.cache
def _this_process() -> Session:
    return this_session()


def session_labels() -> dict[str, str]:
    """The labels of everything this test process creates in the engine."""
    return {SESSION_LABEL: str(_this_process())}
