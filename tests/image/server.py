"""Running one container of the image under test, and looking inside it."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

from testcontainers.core.container import DockerContainer
from testcontainers.core.wait_strategies import HttpWaitStrategy, LogMessageWaitStrategy, WaitStrategy

from bake.server_probes import ServerReader

# Under QEMU a cold start of several workers takes tens of seconds.
STARTUP_TIMEOUT_SECONDS = 180


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


@dataclass
class Server(ServerReader):
    container: DockerContainer
    platform: str

    def url(self, port: int = 80, path: str = "/") -> str:
        return f"http://{self.container.get_container_host_ip()}:{self.container.get_exposed_port(port)}{path}"

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

    def cpu_count(self) -> int:
        return int(self.python("import os; print(os.cpu_count())"))

    def wait_for_log(self, pattern: str, times: int = 1) -> None:
        LogMessageWaitStrategy(re.compile(pattern, re.MULTILINE), times=times).with_startup_timeout(
            STARTUP_TIMEOUT_SECONDS
        ).wait_until_ready(self.container)

    def stop_and_collect_logs(self) -> str:
        """Stops the server with SIGTERM, waits for it to exit, and returns everything it logged."""
        wrapped = self.container.get_wrapped_container()
        wrapped.stop(timeout=30)
        wrapped.wait(timeout=60)
        return self.logs()


def http_ready(port: int = 80) -> WaitStrategy:
    return HttpWaitStrategy(port).for_status_code(200).with_startup_timeout(STARTUP_TIMEOUT_SECONDS)


def _container(
    image_id: str,
    platform: str,
    env: Mapping[str, str] | None,
    tmpfs: str | None = None,
    options: Mapping[str, object] | None = None,
) -> DockerContainer:
    container = DockerContainer(image_id).with_kwargs(platform=platform, **(options or {}))
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
    container = _container(image_id, platform, env, tmpfs, options).with_exposed_ports(port)
    if command:
        container.with_command(command)
    container.waiting_for(ready or http_ready(port))
    with container:
        yield Server(container, platform)


@dataclass(frozen=True)
class Exited:
    code: int
    stdout: str
    stderr: str
    seconds: float


def run_to_exit(image_id: str, platform: str, env: Mapping[str, str], timeout: float = 120) -> Exited:
    """Runs a container that is expected to stop by itself, and reports how."""
    with _container(image_id, platform, env) as container:
        started = time.monotonic()
        status = container.get_wrapped_container().wait(timeout=timeout)
        seconds = time.monotonic() - started
        stdout, stderr = container.get_logs()
    return Exited(status["StatusCode"], stdout.decode(), stderr.decode(), seconds)
