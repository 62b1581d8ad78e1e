"""Running one container of the image under test, and looking inside it."""

from __future__ import annotations

import functools
import io
import json
import math
import tarfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath

from testcontainers.core.container import DockerContainer
from testcontainers.core.wait_strategies import ExecWaitStrategy, HttpWaitStrategy, WaitStrategy

from bake.engine.platforms import engine_platform
from devtools.containers import is_up
from devtools.polling import REAL_TIME, Clock, poll
from devtools.server_probes import ServerReader
from tests.image.leftovers import session_labels
from tests.image.waiting import STARTUP_TIMEOUT_SECONDS as STARTUP_TIMEOUT_SECONDS
from tests.image.waiting import count_matches, startup_deadline


@dataclass(frozen=True)
class Manager:
    """What each process manager logs, for tests of behaviour both share."""

    name: str
    worker_started: str  # a regular expression, one match per worker start
    stopped: str  # the last line it logs on SIGTERM
    info_marker: str  # present in every info-level line

    def child_processes(self, workers: int) -> int:
        """Uvicorn runs a single worker in its own process, with no manager above it."""
        return 0 if self.name == "uvicorn" and workers == 1 else workers


MANAGERS = {
    "gunicorn": Manager("gunicorn", r"Booting worker with pid", "Shutting down: Master", "[INFO]"),
    "uvicorn": Manager("uvicorn", r"Started server process", "Stopping parent process", "INFO:"),
}


# Runs inside the container: the CPUs PID 1 may be scheduled on, and the CPU quota files of
# the container's own cgroup (v2, then v1), as they are.
_READ_CPU_LIMITS = """
import json, os
def text(path):
    try:
        with open(path) as file:
            return file.read().strip()
    except OSError:
        return None
quota_files = ["/sys/fs/cgroup/cpu.max", "/sys/fs/cgroup/cpu/cpu.cfs_quota_us", "/sys/fs/cgroup/cpu/cpu.cfs_period_us"]
print(json.dumps([len(os.sched_getaffinity(1)), *map(text, quota_files)]))
"""


def cpu_quota(cpu_max: str | None, cfs_quota_us: str | None, cfs_period_us: str | None) -> float | None:
    """CPUs' worth of time per period that cgroup v2's cpu.max or v1's two files allow; None: no quota."""
    if cpu_max is not None:
        quota, period = cpu_max.split()
        return None if quota == "max" else int(quota) / int(period)
    if cfs_quota_us in (None, "-1") or cfs_period_us is None:
        return None
    return int(cfs_quota_us) / int(cfs_period_us)


def usable_cpus(affinity: int, quota: float | None) -> int:
    """One per CPU of the affinity, at most the quota rounded up, at least one: what the
    README promises one worker per."""
    return affinity if quota is None else max(1, min(affinity, math.ceil(quota)))


def engine_time(text: str) -> datetime:
    """A time the engine wrote (RFC 3339, in UTC), its nanoseconds cut to what datetime holds."""
    whole, _, fraction = text.rstrip("Z").partition(".")
    return datetime.fromisoformat(f"{whole}.{fraction[:6].ljust(6, '0')}+00:00")


@functools.cache
def _native_platform() -> str:
    return engine_platform()


def is_emulated(platform: str) -> bool:
    """Whether a container of `platform` runs under emulation (QEMU) on this engine."""
    return platform != _native_platform()


@dataclass(frozen=True)
class _LogReading:
    running: bool
    logs: str


@dataclass
class Server(ServerReader):
    container: DockerContainer
    platform: str
    emulated: bool
    clock: Clock = REAL_TIME

    def deadline(self, workers: int = 1) -> float:
        """Seconds a start of `workers` workers may take on this server's platform."""
        return startup_deadline(self.emulated, workers)

    def url(self, port: int = 80, path: str = "/") -> str:
        return f"http://{self.container.get_container_host_ip()}:{self.container.get_exposed_port(port)}{path}"

    def ip_address(self) -> str:
        """The container's own address on its network: a connection made to it meets the
        server's listening socket itself, as one to a pod's address does, without Docker's port
        proxy in between, which accepts every connection and closes those it cannot pass on."""
        wrapped = self.container.get_wrapped_container()
        wrapped.reload()
        networks = wrapped.attrs["NetworkSettings"]["Networks"]
        address: str = next(network["IPAddress"] for network in networks.values() if network["IPAddress"])
        return address

    def logs(self) -> str:
        stdout, stderr = self.container.get_logs()
        return stdout.decode() + stderr.decode()

    def run(self, *command: str) -> str:
        """Runs a command inside the container; it must succeed."""
        result = self.container.exec(list(command))
        output = result.output.decode()
        assert result.exit_code == 0, f"{command} exited {result.exit_code}: {output}"
        return output

    def python(self, code: str) -> str:
        return self.run("python", "-c", code).strip()

    def file_text(self, path: str) -> str:
        """A file's text from the container, running or stopped."""
        chunks, _ = self.container.get_wrapped_container().get_archive(path)
        with tarfile.open(fileobj=io.BytesIO(b"".join(chunks))) as archive:
            member = archive.extractfile(PurePosixPath(path).name)
            assert member is not None, f"{path} is not a file"
            return member.read().decode()

    def cpu_count(self) -> int:
        """os.cpu_count() in the container: the host's CPUs, whatever the container's limits."""
        return int(self.python("import os; print(os.cpu_count())"))

    def cpu_affinity(self) -> int:
        """The CPUs the server (PID 1) may be scheduled on."""
        return len(self.python("import os; print(*os.sched_getaffinity(1))").split())

    def usable_cpus(self) -> int:
        """The CPUs the container may use, read from its affinity and its own cgroup's CPU quota."""
        affinity, *quota_files = json.loads(self.python(_READ_CPU_LIMITS))
        return usable_cpus(affinity, cpu_quota(*quota_files))

    def _read_logs(self) -> _LogReading:
        running = is_up(self.container)  # first: once it has stopped, the logs read next are complete
        return _LogReading(running, self.logs())

    def wait_for_log(self, pattern: str, times: int = 1, seconds: float | None = None) -> str:
        """Polls the logs until `pattern` (a regular expression; ^ and $ match at each line) has
        matched `times` times, and returns them. Fails once the container has stopped short of
        that, or at the deadline: `seconds`, by default the start-up deadline of `times` workers."""
        seconds = self.deadline(times) if seconds is None else seconds
        reading = poll(
            self._read_logs,
            lambda read: count_matches(pattern, read.logs) >= times or not read.running,
            seconds,
            self.clock,
        )
        found = count_matches(pattern, reading.logs)
        why = f"within {seconds:.0f} s" if reading.running else "before the container stopped"
        assert found >= times, f"{pattern!r} matched {found} of {times} times {why}:\n{reading.logs}"
        return reading.logs

    def worker_count_once_settled(self, expected: int) -> int:
        """The number of worker processes, read until it is `expected` or the deadline of that
        many workers passes: Gunicorn forks its workers one after another (and replaces a dead
        one), so a count read at once can be short of what it is about to be."""
        return poll(self.worker_count, lambda count: count == expected, self.deadline(expected), self.clock)

    def stop_and_collect_logs(self) -> str:
        """Stops the server with SIGTERM, waits for it to exit, and returns everything it logged."""
        wrapped = self.container.get_wrapped_container()
        wrapped.stop(timeout=30)
        wrapped.wait(timeout=60)
        return self.logs()


def http_ready(port: int = 80, path: str = "/") -> WaitStrategy:
    return HttpWaitStrategy(port, path).for_status_code(200).with_startup_timeout(STARTUP_TIMEOUT_SECONDS)


def ready_inside(*command: str) -> WaitStrategy:
    """Ready once `command`, run in the container, succeeds: for a server only reachable from
    inside, or only under a name the host does not know."""
    return ExecWaitStrategy(list(command)).with_startup_timeout(STARTUP_TIMEOUT_SECONDS)


def bind_mount(source: str | Path, target: str, read_only: bool = True) -> dict[str, object]:
    """A bind mount in the form of the engine's API, for the `mounts` option (docker-py's)."""
    return {"Type": "bind", "Source": str(source), "Target": target, "ReadOnly": read_only}


def _container(
    image_id: str,
    platform: str,
    env: Mapping[str, str] | None,
    tmpfs: str | None = None,
    options: Mapping[str, object] | None = None,
    command: str | None = None,
) -> DockerContainer:
    labels = session_labels()  # so that one left behind by an interrupted run is removed by the next
    container = DockerContainer(image_id).with_kwargs(platform=platform, labels=labels, **(options or {}))
    if command:
        container.with_command(command)
    if tmpfs:
        container.with_tmpfs_mount(tmpfs)
    for key, value in (env or {}).items():
        container.with_env(key, value)
    return container


@contextmanager
def serve(
    image_id: str,
    platform: str,
    env: Mapping[str, str] | None = None,
    port: int = 80,
    ready: WaitStrategy | None = None,
    command: str | None = None,
    tmpfs: str | None = None,
    options: Mapping[str, object] | None = None,
) -> Iterator[Server]:
    """A running container of the image, removed afterwards; ready when `ready` holds (default: GET / is 200).

    `options` go to docker-py's `containers.create` (user, read_only, nano_cpus, mem_limit, ...).
    """
    container = _container(image_id, platform, env, tmpfs, options, command).with_exposed_ports(port)
    container.waiting_for(ready or http_ready(port))
    with container:
        yield Server(container, platform, emulated=is_emulated(platform))


@dataclass(frozen=True)
class Exited:
    code: int
    stdout: str
    stderr: str
    seconds: float


def run_to_exit(
    image_id: str, platform: str, env: Mapping[str, str], timeout: float = 120, command: str | None = None
) -> Exited:
    """Runs a container that is expected to stop by itself (with the image's command, or
    `command`), and reports how."""
    with _container(image_id, platform, env, command=command) as container:
        started = time.monotonic()
        status = container.get_wrapped_container().wait(timeout=timeout)
        seconds = time.monotonic() - started
        stdout, stderr = container.get_logs()
    return Exited(status["StatusCode"], stdout.decode(), stderr.decode(), seconds)


def assert_app_error(exited: Exited, expected: str) -> None:
    """Gunicorn's workers import the application (the launcher does not, so that checking costs
    no start any time): Gunicorn's own lines about its start come first, then it stops after
    its first round of workers, and the launcher says why in one line, the last, once."""
    lines = [line for line in exited.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error: ")]
    assert exited.code == 2, exited
    assert len(errors) == 1 and expected in errors[0], lines
    assert lines[-1] == errors[0], lines
    assert "Traceback" not in exited.stdout + exited.stderr
    workers = json.loads(exited.stdout.splitlines()[-1])["workers"]["count"]
    assert sum("Booting worker" in line for line in lines) <= workers, lines  # no worker was restarted
    assert exited.seconds < 30
