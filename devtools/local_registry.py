"""A real registry on loopback, for publishing tests, workflow runs and benchmarks.

Where the registry image can be had (in the local store, or pulled), it runs as a
container through testcontainers; where it cannot (no registry reachable, as on an
offline host), Debian's `docker-registry` binary serves instead. One line says which.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import requests
from python_on_whales import DockerException, docker
from testcontainers.core.container import DockerContainer

from bake.errors import BakeError
from bake.progress import say
from devtools.containers import is_up
from devtools.polling import poll

READY_SECONDS = 30
REGISTRY_IMAGE = "registry:2"
REGISTRY_PORT = 5000


class LocalRegistryError(BakeError):
    """No local registry could be started."""


# docker-registry's line once it listens, at log level info.
LISTENING = re.compile(r'msg="listening on (127\.0\.0\.1:[0-9]+)"')


def free_port() -> int:
    """A loopback TCP port nothing listens on right now (another process may take it before
    the caller binds it: where the caller can, it lets the kernel choose and reads it back)."""
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


def _answers(address: str) -> bool:
    """Whether the registry API's root answers 200 at host:port `address`."""
    try:
        return requests.get(f"http://{address}/v2/", timeout=2).status_code == 200
    except requests.ConnectionError:
        return False


def _wait_until_serving(
    address: Callable[[], str | None], running: Callable[[], bool], output: Callable[[], str]
) -> str:
    """The registry's host:port (`address`: None while it is not known yet), once its API
    answers there; fails once it is not `running`, or at the deadline, with its `output`."""

    def serving_at() -> str | None:
        now = address()
        if now and _answers(now):
            return now
        if not running():
            raise LocalRegistryError(f"the local registry did not start: {output()}")
        return None

    found = poll(serving_at, lambda answer: answer is not None, READY_SECONDS, interval=0.1)
    if found is None:
        raise LocalRegistryError(f"the local registry did not start: {output()}")
    return found


@contextmanager
def _container_registry(labels: Mapping[str, str]) -> Iterator[str]:
    container = DockerContainer(REGISTRY_IMAGE).with_kwargs(labels=dict(labels))
    # On loopback only, at a port the engine chooses: docker-py takes (address,) for that.
    # testcontainers' with_bind_ports takes a port alone, so its table is written directly.
    container.ports[f"{REGISTRY_PORT}/tcp"] = ("127.0.0.1",)  # type: ignore[assignment]
    with container:
        wrapped = container.get_wrapped_container()
        # Read at 127.0.0.1, where it listens: testcontainers' waits would ask at the address
        # it takes for the engine's host, which may be a bridge's gateway.
        port = container.get_exposed_port(REGISTRY_PORT)
        yield _wait_until_serving(
            lambda: f"127.0.0.1:{port}", lambda: is_up(container), lambda: wrapped.logs().decode()
        )


def _logged_address(log: Path) -> str | None:
    """Where docker-registry, told port 0, says the kernel put it."""
    found = LISTENING.search(log.read_text())
    return found.group(1) if found else None


def _print_internal_errors(log: Path) -> None:
    """The registry's own failures (HTTP 500), which its clients report only as a status line."""
    for line in log.read_text().splitlines():
        if "http.response.status=500" in line:
            say(f"local registry: internal error: {line}")


@contextmanager
def _binary_registry(directory: Path) -> Iterator[str]:
    config = directory / "config.yml"
    # Port 0: the kernel chooses a free one as the registry binds, and its log says which.
    # Level info for that line; the access log, which info would add, stays off.
    # Storage in memory: the filesystem driver rewrites a tag's link file in place (truncate,
    # then write), so a HEAD of a tag while a push writes it can read it empty and answer 500
    # "invalid checksum digest format"; a publishing test failed so on a busy machine. The
    # in-memory driver reads and writes under one lock.
    config.write_text(
        "version: 0.1\nlog:\n  level: info\n  accesslog:\n    disabled: true\n"
        "storage:\n  inmemory: {}\n"
        "http:\n  addr: 127.0.0.1:0\n"
    )
    log_path = directory / "registry.log"
    with log_path.open("w") as log:
        server = subprocess.Popen(["docker-registry", "serve", str(config)], stdout=log, stderr=subprocess.STDOUT)
        try:
            yield _wait_until_serving(
                lambda: _logged_address(log_path), lambda: server.poll() is None, log_path.read_text
            )
        finally:
            server.terminate()
            server.wait(timeout=30)
            _print_internal_errors(log_path)


@contextmanager
def local_registry(directory: Path, labels: Mapping[str, str] | None = None) -> Iterator[str]:
    """Starts a registry on 127.0.0.1 and yields its host:port. A local process keeps its
    configuration and log in `directory` and what is pushed in memory; a container gets
    `labels`."""
    unavailable = _image_unavailable_reason()
    if unavailable is None:
        say(f"local registry: a {REGISTRY_IMAGE} container")
        with _container_registry(labels or {}) as address:
            yield address
        return
    if shutil.which("docker-registry") is None:
        raise LocalRegistryError(
            f"no local registry: {REGISTRY_IMAGE} cannot be had ({unavailable}) and docker-registry is not "
            "installed (./setup-host.sh installs it)"
        )
    say(f"local registry: Debian's docker-registry ({REGISTRY_IMAGE} cannot be had: {unavailable})")
    with _binary_registry(directory) as address:
        yield address
