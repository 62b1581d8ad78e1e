"""A real registry on loopback, for publishing tests, workflow runs and benchmarks.

Where the registry image can be had (in the local store, or pulled), it runs as a
container through testcontainers; where it cannot (no registry reachable, as on an
offline host), Debian's `docker-registry` binary serves instead. One line says which.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests
from python_on_whales import DockerException, docker
from testcontainers.core.container import DockerContainer
from testcontainers.core.wait_strategies import HttpWaitStrategy

READY_SECONDS = 30
REGISTRY_IMAGE = "registry:2"
REGISTRY_PORT = 5000


class LocalRegistryError(RuntimeError):
    """No local registry could be started."""


def free_port() -> int:
    """A loopback TCP port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _image_unavailable_reason() -> str | None:
    """None when the registry image is at hand (pulling it if need be), else why it is not."""
    if docker.image.exists(REGISTRY_IMAGE):
        return None
    try:
        docker.image.pull(REGISTRY_IMAGE, quiet=True)
    except DockerException as error:
        lines = (error.stderr or "").strip().splitlines()
        return lines[-1] if lines else f"docker pull exited {error.return_code}"
    return None


@contextmanager
def _container_registry() -> Iterator[str]:
    port = free_port()
    container = (
        DockerContainer(REGISTRY_IMAGE)
        # docker-py takes (address, port) to publish on loopback only; testcontainers' hint says str | int.
        .with_bind_ports(REGISTRY_PORT, ("127.0.0.1", port))  # type: ignore[arg-type]
        .waiting_for(HttpWaitStrategy(REGISTRY_PORT, "/v2/").for_status_code(200).with_startup_timeout(READY_SECONDS))
    )
    with container:
        yield f"127.0.0.1:{port}"


def _wait_until_serving(address: str, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + READY_SECONDS
    while True:  # readiness: the API root answers 200
        try:
            if requests.get(f"http://{address}/v2/", timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            raise LocalRegistryError(f"docker-registry did not start: {log.read_text()}")
        time.sleep(0.1)


def _print_internal_errors(log: Path) -> None:
    """The registry's own failures (HTTP 500), which its clients report only as a status line."""
    for line in log.read_text().splitlines():
        if "http.response.status=500" in line:
            print(f"local registry: internal error: {line}", flush=True)


@contextmanager
def _binary_registry(directory: Path) -> Iterator[str]:
    address = f"127.0.0.1:{free_port()}"
    config = directory / "config.yml"
    config.write_text(
        "version: 0.1\nlog:\n  level: warn\n"
        f"storage:\n  filesystem:\n    rootdirectory: {directory / 'data'}\n"
        f"http:\n  addr: {address}\n"
    )
    log_path = directory / "registry.log"
    with log_path.open("w") as log:
        server = subprocess.Popen(["docker-registry", "serve", str(config)], stdout=log, stderr=subprocess.STDOUT)
        try:
            _wait_until_serving(address, server, log_path)
            yield address
        finally:
            server.terminate()
            server.wait(timeout=30)
            _print_internal_errors(log_path)


@contextmanager
def local_registry(directory: Path) -> Iterator[str]:
    """Starts a registry on 127.0.0.1 (storage in `directory` where it is a local process);
    yields its host:port."""
    unavailable = _image_unavailable_reason()
    if unavailable is None:
        print(f"local registry: a {REGISTRY_IMAGE} container", flush=True)
        with _container_registry() as address:
            yield address
        return
    if shutil.which("docker-registry") is None:
        raise LocalRegistryError(
            f"no local registry: {REGISTRY_IMAGE} cannot be had ({unavailable}) and docker-registry is not "
            "installed (./setup-host.sh installs it)"
        )
    print(f"local registry: Debian's docker-registry ({REGISTRY_IMAGE} cannot be had: {unavailable})", flush=True)
    with _binary_registry(directory) as address:
        yield address
