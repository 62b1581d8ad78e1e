"""DRAIN_SECONDS in Gunicorn's master: the drain's hold on SIGTERM against a stand-in arbiter,
then a real launcher, Gunicorn and Uvicorn worker in a process of their own. Needs Gunicorn
and Uvicorn, which the unit tests' own environment may not have: skipped there."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

pytest.importorskip("gunicorn")
pytest.importorskip("uvicorn")

from uvicorn_gunicorn_runtime import healthcheck
from uvicorn_gunicorn_runtime.drain import Drain
from uvicorn_gunicorn_runtime.healthcheck import Draining

from devtools.polling import poll

RUNTIME = Path(__file__).resolve().parents[3] / "common" / "runtime"
IMAGE_CONF = Path(__file__).resolve().parents[3] / "common" / "gunicorn_conf.py"


class Log:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def info(self, message: str, *args: object) -> None:
        self.lines.append(message % args)


class Queue:
    """Gunicorn's signal queue, empty: records how long each wait would have blocked."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def get(self, block: bool, timeout: float) -> int:
        self.waits.append(timeout)
        raise queue.Empty


@dataclass
class Cfg:
    graceful_timeout: int = 30


@dataclass
class StandIn:
    """What of Gunicorn's arbiter the drain and Gunicorn's own wait_for_signals use."""

    SIG_QUEUE: Queue = field(default_factory=Queue)
    WAKEUP_REQUEST: int = signal.NSIG
    log: Log = field(default_factory=Log)
    cfg: Cfg = field(default_factory=Cfg)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Attached:
    drain: Drain
    arbiter: StandIn
    clock: Clock
    records: list[Draining | None]


@pytest.fixture
def attached() -> Attached:
    records: list[Draining | None] = []
    clock = Clock()
    drain = Drain(15, record=lambda arbiter, draining: records.append(draining), clock=clock)
    arbiter = StandIn()
    drain.attach(arbiter)
    return Attached(drain, arbiter, clock, records)


def test_it_takes_over_the_masters_sigterm_and_wait(attached: Attached) -> None:
    assert attached.arbiter.handle_term == attached.drain.handle_term  # type: ignore[attr-defined]
    assert attached.arbiter.wait_for_signals == attached.drain.wait_for_signals  # type: ignore[attr-defined]


def test_before_sigterm_the_wait_is_gunicorns(attached: Attached) -> None:
    assert attached.drain.wait_for_signals(timeout=1.0) == []
    assert attached.arbiter.SIG_QUEUE.waits == [1.0]
    assert attached.records == [] and attached.arbiter.log.lines == []


def test_the_first_sigterm_starts_the_drain_and_records_it(attached: Attached) -> None:
    before = time.time()
    attached.drain.handle_term()  # no StopIteration: the master's loop goes on
    [draining] = attached.records
    assert draining is not None
    until, seconds = draining
    assert seconds == 15 and before + 15 <= until <= time.time() + 15
    assert attached.arbiter.log.lines == [
        "Draining for 15 s (DRAIN_SECONDS): still accepting and answering, /healthcheck --ready fails;"
        " then the graceful stop (graceful timeout 30 s)"
    ]


def test_the_wait_ends_with_the_drain_then_gunicorns_sigterm_runs(attached: Attached) -> None:
    attached.drain.handle_term()
    attached.clock.now += 14.75
    assert attached.drain.wait_for_signals(timeout=1.0) == []
    assert attached.arbiter.SIG_QUEUE.waits == [0.25]  # not past the drain's end
    attached.clock.now += 0.25
    with pytest.raises(StopIteration):  # what Gunicorn's own handle_term raises: a graceful halt
        attached.drain.wait_for_signals(timeout=1.0)
    assert attached.arbiter.log.lines[-1] == "Drain over after 15.0 s: stopping gracefully (graceful timeout 30 s)"


def test_a_second_sigterm_ends_the_drain_at_once(attached: Attached) -> None:
    attached.drain.handle_term()
    attached.clock.now += 4
    with pytest.raises(StopIteration):
        attached.drain.handle_term()
    assert attached.arbiter.log.lines[-1] == (
        "Drain ended by a second SIGTERM after 4.0 s: stopping gracefully (graceful timeout 30 s)"
    )
    assert len(attached.records) == 1


# The launcher, Gunicorn and a worker, for real

APP = """
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})
"""


@dataclass
class Launched:
    process: subprocess.Popen[str]
    record: str

    def probe(self, *argv: str) -> tuple[int, str]:
        done = subprocess.run(
            [sys.executable, "-I", "-c", PROBE, self.record, *argv], capture_output=True, text=True, timeout=60
        )
        return done.returncode, done.stdout


# The health check with the record of this test's server.
PROBE = f"""
import sys
sys.path.insert(0, {str(RUNTIME)!r})
from uvicorn_gunicorn_runtime import healthcheck
sys.exit(healthcheck.main(["healthcheck", *sys.argv[2:]], record=sys.argv[1]))
"""
# The launcher, its record and Gunicorn's control socket kept to this test's directory.
LAUNCH = f"""
import sys
sys.path.insert(0, {str(RUNTIME)!r})
from uvicorn_gunicorn_runtime import healthcheck, launch
healthcheck.RECORD = sys.argv[1]
sys.exit(launch.main(["launch"]))
"""


@pytest.fixture
def launched(tmp_path: Path) -> Iterator[Launched]:
    (tmp_path / "drained_app.py").write_text(APP)
    record = str(tmp_path / "health")
    env = {
        **os.environ,
        "PYTHONPATH": str(tmp_path),
        "APP_MODULE": "drained_app:app",
        "GUNICORN_CONF": str(IMAGE_CONF),
        "GUNICORN_CMD_ARGS": f"--control-socket {tmp_path / 'gunicorn.ctl'}",
        "BIND": f"unix:{tmp_path / 'app.sock'}",
        "WEB_CONCURRENCY": "1",
        "DRAIN_SECONDS": "600",  # ended by the test's second SIGTERM
        "GRACEFUL_TIMEOUT": "20",
    }
    process = subprocess.Popen(
        [sys.executable, "-c", LAUNCH, record], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        yield Launched(process, record)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=60)


def test_a_real_master_drains_until_its_second_sigterm(launched: Launched) -> None:
    started = poll(lambda: launched.probe("--live"), lambda probed: probed[0] == 0, 120)
    assert started[0] == 0, started
    launched.process.send_signal(signal.SIGTERM)
    draining = poll(lambda: healthcheck.read_record(launched.record), lambda read: bool(read and read[2]), 60)
    assert draining is not None and draining[2] is not None, draining
    ready, live = launched.probe("--ready"), launched.probe("--live")
    launched.process.send_signal(signal.SIGTERM)
    output, _ = launched.process.communicate(timeout=60)
    assert ready[0] == 1 and re.fullmatch(r"not ready: draining: \d+ s left of DRAIN_SECONDS=600, .*\n", ready[1])
    assert live[0] == 0 and live[1].startswith("alive: unix:") and "; draining: " in live[1], live
    assert launched.process.returncode == 0, output
    lines = [line.split("] ", 3)[-1] for line in output.splitlines()]
    assert "Handling signal: term" in lines, output
    assert any(line.startswith("Draining for 600 s (DRAIN_SECONDS)") for line in lines), output
    assert any(line.startswith("Drain ended by a second SIGTERM after ") for line in lines), output
    assert lines[-1] == "Shutting down: Master", output
