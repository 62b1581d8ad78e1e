"""One server container for a measurement: on the host's network, bound to loopback."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import requests
from python_on_whales import Container, docker

from bake.errors import BakeError
from devtools.local_registry import free_port
from devtools.server_probes import ServerReader

BENCH_APP = Path(__file__).with_name("app")
# Under QEMU a cold start of the arm64 image takes tens of seconds.
READY_TIMEOUT_SECONDS = 240
POLL_SECONDS = 0.01


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


def _wait_for_200(url: str, container: Container, started: float) -> float:
    """Seconds from `started` to the first 200 from `url`: the measurement itself, polled finely."""
    next_liveness_check = started
    while time.monotonic() - started < READY_TIMEOUT_SECONDS:
        try:
            if requests.get(url, timeout=5).status_code == 200:
                return time.monotonic() - started
        except requests.ConnectionError:
            pass
        if time.monotonic() >= next_liveness_check:  # asking the engine is slow: not on every poll
            if not docker.container.inspect(container.id).state.running:
                raise ServerError(f"the server exited before answering:\n{docker.container.logs(container)}")
            next_liveness_check = time.monotonic() + 1
        time.sleep(POLL_SECONDS)
    raise ServerError(f"no 200 from {url} within {READY_TIMEOUT_SECONDS} s:\n{docker.container.logs(container)}")


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
        ready = _wait_for_200(f"http://127.0.0.1:{port}/", container, started)
        yield RunningServer(container, port, ready)
    finally:
        docker.container.remove(container, force=True, volumes=True)
