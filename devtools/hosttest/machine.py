"""A fresh Debian 12 host with systemd as PID 1, as a privileged container of this host's engine."""

from __future__ import annotations

import contextlib
import hashlib
import shlex
import shutil
import subprocess
import tempfile
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO, cast

from python_on_whales import Container, DockerException, Volume, docker

from bake.core.ca_bundle import find_ca_bundle
from bake.core.debian_sources import Mirrors
from bake.core.matrix import DebianSuite
from bake.core.reference import ImageReference
from bake.engine.standin import DPKG_EXCLUDES, MERGED_USR_HOOKS, apt_source_lines, cache_dir
from bake.errors import BakeError
from bake.paths import REPO_ROOT


class HostTestError(BakeError):
    """A test host or guest could not be made, booted or driven (not a scenario's verdict)."""


SUITE = DebianSuite("bookworm", ("updates", "security"))
# Beyond the apt variant's essential set: what a Debian 12 host that boots with systemd has.
PACKAGES = ("systemd-sysv", "dbus")
# Both unregister every binary format when they stop, and binfmt_misc is shared with the host's
# kernel: left alone, stopping a test host would take arm64 emulation away from the host.
MASKED_UNITS = ("systemd-binfmt.service", "binfmt-support.service")
HOOKS = tuple(f'ln -sf /dev/null "$1/etc/systemd/system/{unit}"' for unit in MASKED_UNITS)
IMAGE_REPOSITORY = "uvicorn-gunicorn-hosttest"
# systemd wants to know it runs in a container, and stops cleanly on SIGRTMIN+3.
IMAGE_CHANGES = ("ENV container=docker", "STOPSIGNAL SIGRTMIN+3", 'CMD ["/sbin/init"]')
# The host's CA bundle as a local CA: update-ca-certificates (run when ca-certificates is installed)
# adds it to /etc/ssl/certs/ca-certificates.crt, which the host's /etc/pip.conf names.
CA_TARGET = "/usr/local/share/ca-certificates/uvicorn-gunicorn-host.crt"
PIP_CONF = Path("/etc/pip.conf")
REPO_TARGET = "/root/uvicorn-gunicorn"
CONTAINER_CACHE = "/var/cache/uvicorn-gunicorn"
BOOT_SECONDS = 180

Say = Callable[[str], None]


def mmdebstrap_command(output: Path, mirrors: Mirrors) -> list[str]:
    command = [
        "mmdebstrap",
        "--variant=apt",
        f"--include={','.join(PACKAGES)}",
        f"--hook-dir={MERGED_USR_HOOKS}",
        *(f"--dpkgopt={option}" for option in DPKG_EXCLUDES),
        *(f"--customize-hook={hook}" for hook in HOOKS),
    ]
    return [*command, SUITE.name, str(output), *apt_source_lines(SUITE, mirrors)]


def rootfs_key(mirrors: Mirrors) -> str:
    """Changes with anything that changes the root filesystem, the mirror included."""
    return hashlib.sha256("\0".join(mmdebstrap_command(Path("-"), mirrors)).encode()).hexdigest()[:12]


def rootfs_path(mirrors: Mirrors) -> Path:
    return cache_dir() / "hosttest" / f"debian-{SUITE.name}-systemd-{rootfs_key(mirrors)}.tar"


def ensure_rootfs(mirrors: Mirrors, say: Say) -> Path:
    tarball = rootfs_path(mirrors)
    if tarball.exists():
        say(f"host root filesystem: cached at {tarball}")
        return tarball
    tarball.parent.mkdir(parents=True, exist_ok=True)
    partial, log = tarball.with_suffix(".partial.tar"), tarball.with_suffix(".log")
    say(f"host root filesystem: bootstrapping Debian {SUITE.name} with systemd (log: {log})")
    started = time.monotonic()
    with log.open("w") as handle:
        result = subprocess.run(mmdebstrap_command(partial, mirrors), stdout=handle, stderr=subprocess.STDOUT)
    if result.returncode != 0:
        raise HostTestError(f"mmdebstrap failed: see {log}")
    partial.rename(tarball)
    say(f"host root filesystem: built in {time.monotonic() - started:.0f} s")
    return tarball


def image_reference(tarball: Path) -> str:
    return str(ImageReference(IMAGE_REPOSITORY, tarball.stem))


def ensure_image(tarball: Path) -> str:
    reference = image_reference(tarball)
    if not docker.image.exists(reference):
        docker.image.import_(tarball, reference, changes=IMAGE_CHANGES)
    return reference


def repo_files(root: Path = REPO_ROOT) -> list[str]:
    """The work tree's files as a fresh clone with these edits would have them: tracked files as
    they are now (deleted ones left out) and new files git does not ignore."""
    listed = subprocess.run(
        ["git", "-C", str(root), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        capture_output=True,
        check=True,
    ).stdout.decode()
    names = sorted({name for name in listed.split("\0") if name})
    return [name for name in names if (root / name).is_file() or (root / name).is_symlink()]


def run_options(name: str, volumes: Sequence[tuple[str, str]], ca_bundle: Path, systemd: bool) -> dict[str, object]:
    """How a test host runs: privileged (it runs an engine), its own cgroup namespace so that
    systemd sees its cgroups as the root of the tree (cgroup v1 here), /run and /run/lock on tmpfs,
    the engine's data on volumes (overlay on overlay fails), the host's CA bundle and pip.conf."""
    mounts: list[tuple[str, str] | tuple[str, str, str]] = [*volumes, (str(ca_bundle), CA_TARGET, "ro")]
    if PIP_CONF.is_file():
        mounts.append((str(PIP_CONF), str(PIP_CONF), "ro"))
    options: dict[str, object] = {
        "name": name,
        "hostname": name,
        "detach": True,
        "privileged": True,
        "cgroupns": "private",
        "tmpfs": ["/run", "/run/lock"],
        "volumes": mounts,
    }
    if not systemd:
        options["command"] = ["sleep", "infinity"]
    return options


@dataclass
class Step:
    command: str
    returncode: int
    seconds: float
    output: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    @property
    def lines(self) -> list[str]:
        return self.output.splitlines()

    def tail(self, count: int = 15) -> str:
        return "\n".join(self.lines[-count:])


class TestHost(ABC):
    """What a scenario needs of a test host (a system container here, or a virtual machine):
    commands run with bash in the repository's copy, each logged with its output and exit."""

    name: str
    log: Path  # every command and its output
    steps: list[Step]

    @abstractmethod
    def _execute(self, command: str, timeout: int, log: TextIO) -> tuple[int, str]:
        """Runs `command` for at most `timeout` seconds: its exit code and output (which it may
        also write to `log` as it comes)."""

    @abstractmethod
    def copy(self, files: Iterable[Path], directory: str) -> None: ...

    def run(self, command: str, timeout: int = 3600) -> Step:
        started = time.monotonic()
        with self.log.open("a") as log:
            log.write(f"\n$ {command}\n")
            log.flush()
            returncode, output = self._execute(command, timeout, log)
            step = Step(command, returncode, time.monotonic() - started, output)
            log.write(f"[exit {step.returncode} after {step.seconds:.1f} s]\n")
        self.steps.append(step)
        return step

    def check(self, command: str) -> bool:
        return self.run(command, timeout=120).ok


@dataclass
class Host(TestHost):
    """One test host. Every command runs with bash in the repository's copy and is logged."""

    name: str
    container: Container
    volumes: list[Volume]
    log: Path
    steps: list[Step] = field(default_factory=list)

    def _execute(self, command: str, timeout: int, log: TextIO) -> tuple[int, str]:
        chunks: list[str] = []
        argv = ["timeout", str(timeout), "bash", "-c", command]
        try:
            stream = docker.container.execute(self.container, argv, workdir=REPO_TARGET, stream=True)
            for _source, raw in cast(Iterable[tuple[str, bytes]], stream):
                text = raw.decode(errors="replace")
                chunks.append(text)
                log.write(text)
                log.flush()
        except DockerException as error:
            return error.return_code or 1, "".join(chunks)
        return 0, "".join(chunks)

    def copy(self, files: Iterable[Path], directory: str) -> None:
        copy_into(self, files, directory)


def boot(image: str, name: str, log: Path, say: Say, systemd: bool = True, repo_root: Path = REPO_ROOT) -> Host:
    """Starts a host, waits for systemd to finish booting, and copies the repository in."""
    volumes = [docker.volume.create(f"{name}-{part}") for part in ("docker", "containerd")]
    mounts = [(volumes[0].name, "/var/lib/docker"), (volumes[1].name, "/var/lib/containerd")]
    try:
        container = docker.run(image, **run_options(name, mounts, find_ca_bundle(), systemd))  # type: ignore[call-overload]
    except DockerException:
        for volume in volumes:
            volume.remove()
        raise
    host = Host(name, container, volumes, log)
    try:
        # The working directory must exist before the first command.
        docker.container.execute(container, ["mkdir", "-p", REPO_TARGET])
        if systemd:
            _wait_for_systemd(host, say)
        copy_repo(host, repo_root)
    except BaseException:
        remove(host)
        raise
    return host


def _wait_for_systemd(host: Host, say: Say) -> None:
    """`systemctl is-system-running --wait` answers running or degraded once booting is over; it
    can only ask once systemd listens on its private socket, a moment after the container starts."""
    ready = host.run(
        f"for _ in $(seq {BOOT_SECONDS * 5}); do [ -S /run/systemd/private ] && break; sleep 0.2; done; "
        f"timeout {BOOT_SECONDS} systemctl is-system-running --wait",
        timeout=2 * BOOT_SECONDS + 10,
    )
    state = (ready.output.strip().splitlines() or ["(nothing)"])[-1]
    if state not in ("running", "degraded"):
        raise HostTestError(f"{host.name}: systemd did not finish booting: {state} (log: {host.log})")
    if state == "degraded":
        host.run("systemctl --failed --no-legend")
    say(f"{host.name}: systemd booted ({state}) in {ready.seconds:.1f} s")


def copy_repo(host: Host, root: Path = REPO_ROOT) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        copy = Path(scratch) / "repo"
        for name in repo_files(root):
            target = copy / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(root / name, target, follow_symlinks=False)
        docker.container.copy(f"{copy}/.", (host.container, REPO_TARGET))


def copy_into(host: Host, files: Iterable[Path], directory: str) -> None:
    host.run(f"mkdir -p {shlex.quote(directory)}")
    for path in files:
        docker.container.copy(path, (host.container, f"{directory}/{path.name}"))


def remove(host: Host) -> None:
    """Stops systemd the way a host shuts down, then removes the container and its volumes."""
    with contextlib.suppress(DockerException):
        docker.container.stop(host.container, time=30)
    docker.container.remove(host.container, force=True, volumes=True)
    for volume in host.volumes:
        volume.remove()


BINFMT = Path("/proc/sys/fs/binfmt_misc")
BINFMT_CONTROL = {"register", "status"}


def binfmt_entries(root: Path = BINFMT) -> dict[str, str]:
    """The kernel's binary formats (one instance for the host and every privileged container)."""
    if not (root / "status").exists():
        return {}
    return {path.name: path.read_text() for path in sorted(root.iterdir()) if path.name not in BINFMT_CONTROL}


def restore_binfmt(before: dict[str, str], root: Path = BINFMT) -> tuple[list[str], list[str]]:
    """Unregisters the formats a test host added (installing binfmt-support there registers every
    format it knows, for the whole kernel); returns them and the host's formats that changed."""
    added = sorted(set(binfmt_entries(root)) - set(before))
    for name in added:
        (root / name).write_text("-1")
    now = binfmt_entries(root)
    changed = sorted(name for name, text in before.items() if now.get(name) != text)
    return added, changed
