"""One server container for a measurement: on the host's network, bound to loopback."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http import HTTPStatus
from http.client import HTTPConnection, HTTPException
from pathlib import Path

from python_on_whales import Container, docker

from bake.errors import BakeError
from devtools.local_registry import free_port
from devtools.server_probes import ServerReader

BENCH_APP = Path(__file__).with_name("app")
# Under QEMU a cold start of the arm64 image takes tens of seconds.
READY_TIMEOUT_SECONDS = 240
# A refused connection costs this poll about 0.02 ms of CPU (requests: 0.4 ms), so it can poll
# every millisecond without taking the CPU the start needs.
POLL_SECONDS = 0.001
# Asking the engine whether the container still runs starts a docker client process: not while
# the server starts, and then once a second.
LIVENESS_CHECK_SECONDS = 1.0


class ServerError(BakeError):
    """The server did not come up."""


@dataclass(frozen=True)
class ServerSpec:
    """How one container is started; every field is a docker run option or the image's environment."""

    image: str
    environment: Mapping[str, str] = field(default_factory=dict)
    command: Sequence[str] = ()
    cpuset: str | None = None
    cpus: float | None = None
    platform: str | None = None
    with_bench_app: bool = True
    access_log_off: bool = True  # the measurements of throughput alone turn it off
    log_driver: str | None = None  # the engine's default (json-file) when None


@dataclass
class RunningServer(ServerReader):
    container: Container
    port: int
    seconds_to_first_200: float

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def logs(self) -> str:
        return str(docker.container.logs(self.container))

    def python(self, source: str) -> str:
        return str(docker.container.execute(self.container, ["python", "-c", source]))


def _status_of(port: int) -> int | None:
    """The status of a GET of / on the loopback `port`; None while nothing answers there."""
    connection = HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", "/")
        return connection.getresponse().status
    except (OSError, HTTPException):
        return None
    finally:
        connection.close()


def _wait_for_200(port: int, container: Container, started: float) -> float:
    """Seconds from `started` to the first 200 on / at `port`: the measurement itself, polled finely."""
    next_liveness_check = started + LIVENESS_CHECK_SECONDS
    while time.monotonic() - started < READY_TIMEOUT_SECONDS:
        if _status_of(port) == HTTPStatus.OK:
            return time.monotonic() - started
        if time.monotonic() >= next_liveness_check:
            if not docker.container.inspect(container.id).state.running:
                raise ServerError(f"the server exited before answering:\n{docker.container.logs(container)}")
            next_liveness_check = time.monotonic() + LIVENESS_CHECK_SECONDS
        time.sleep(POLL_SECONDS)
    raise ServerError(f"no 200 on port {port} within {READY_TIMEOUT_SECONDS} s:\n{docker.container.logs(container)}")


def _environment(spec: ServerSpec, port: int) -> dict[str, str]:
    environment = {"BIND": f"127.0.0.1:{port}"} | ({"ACCESS_LOG": ""} if spec.access_log_off else {})
    if spec.with_bench_app:
        environment |= {"APP_MODULE": "bench_app:app", "PYTHONPATH": "/app:/bench"}
    return environment | dict(spec.environment)


@contextmanager
def running(spec: ServerSpec) -> Iterator[RunningServer]:
    """Starts the container, waits for its first 200 on `/`, removes it on the way out."""
    port = free_port()
    volumes = [(BENCH_APP, "/bench", "ro")] if spec.with_bench_app else []
    command = [part.format(port=port) for part in spec.command]
    started = time.monotonic()
    container = docker.run(
        spec.image,
        command,
        detach=True,
        networks=["host"],
        envs=_environment(spec, port),
        volumes=volumes,
        cpuset_cpus=[int(cpu) for cpu in spec.cpuset.split(",")] if spec.cpuset else None,
        cpus=spec.cpus,
        platform=spec.platform,
        log_driver=spec.log_driver,
        pull="never",
    )
    assert isinstance(container, Container)
    try:
        ready = _wait_for_200(port, container, started)
        yield RunningServer(container, port, ready)
    finally:
        docker.container.remove(container, force=True, volumes=True)
