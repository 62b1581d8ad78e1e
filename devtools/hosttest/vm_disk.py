"""Disks of the virtual machines `nox -s vms` boots: a Debian root filesystem from mmdebstrap
with a kernel, systemd and an SSH server, written into a raw ext4 image once and kept in the
cache; each boot writes to a qcow2 overlay of its own, so the cached disk stays as built."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bake.core.ca_bundle import find_ca_bundle
from bake.core.debian_sources import Mirrors
from bake.core.matrix import DebianSuite
from bake.engine.standin import MERGED_USR_HOOKS, apt_source_lines, cache_dir
from devtools.hosttest.machine import CA_TARGET, PIP_CONF, HostTestError, Say

# What every guest has beyond Debian's `important` set: a kernel that boots it, systemd, DHCP
# on the one network interface, and an SSH server the harness logs in to as root with its key.
BOOT_PACKAGES = (
    "linux-image-amd64", "systemd-sysv", "udev", "ifupdown", "isc-dhcp-client", "openssh-server", "ca-certificates",
)  # fmt: skip
DISK_SIZE = "24G"  # sparse: an image build inside a guest needs several GB
NETWORK_INTERFACES = "auto lo\niface lo inet loopback\nauto eth0\niface eth0 inet dhcp\n"
KEY_NAME = "vm-key"


@dataclass(frozen=True)
class GuestRecipe:
    """One kind of guest: a Debian suite, packages beyond the boot set, and hooks that finish it."""

    name: str
    suite: DebianSuite
    packages: tuple[str, ...] = ()
    hooks: tuple[str, ...] = ()  # mmdebstrap customize hooks, run with the root as $1


@dataclass(frozen=True)
class GuestDisk:
    image: Path  # raw ext4, read-only once built
    kernel: Path
    initrd: Path


def harness_key() -> Path:
    """The harness's SSH key pair, made once per cache; guests accept only it, on 127.0.0.1."""
    directory = cache_dir() / "vm"
    directory.mkdir(parents=True, exist_ok=True)
    key = directory / KEY_NAME
    if not key.exists():
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "uvicorn-gunicorn-vms", "-f", str(key)], check=True
        )
    return key


def guest_files(recipe: GuestRecipe) -> dict[str, bytes]:
    """Files written into the guest: from this host, as a host test has them, its CA bundle and
    pip's configuration (apt, pip and image builds go through the host's proxy and mirrors) and
    the harness's public key; the network set-up and the guest's name."""
    files = {CA_TARGET: find_ca_bundle().read_bytes()}
    if PIP_CONF.is_file():
        files[str(PIP_CONF)] = PIP_CONF.read_bytes()
    files["/root/.ssh/authorized_keys"] = harness_key().with_suffix(".pub").read_bytes()
    files["/etc/network/interfaces"] = NETWORK_INTERFACES.encode()
    files["/etc/hostname"] = f"{recipe.name}\n".encode()
    return files


def _copy_hooks(staging: Path, files: dict[str, bytes]) -> list[str]:
    hooks = []
    for index, (target, content) in enumerate(sorted(files.items())):
        source = staging / f"file-{index}"
        source.write_bytes(content)
        hooks.append(f'mkdir -p "$1{Path(target).parent}" && cp {source} "$1{target}"')
    return hooks


def mmdebstrap_command(recipe: GuestRecipe, output: Path, mirrors: Mirrors, copy_hooks: list[str]) -> list[str]:
    packages = (*BOOT_PACKAGES, *recipe.packages)
    hooks = [
        *copy_hooks,
        'chmod 700 "$1/root/.ssh" && chmod 600 "$1/root/.ssh/authorized_keys"',
        'chroot "$1" update-ca-certificates >/dev/null',
        *recipe.hooks,
    ]
    command = ["mmdebstrap", "--variant=important", f"--include={','.join(packages)}", f"--hook-dir={MERGED_USR_HOOKS}"]
    if recipe.suite.expired_release_ok:
        command.append('--aptopt=Acquire::Check-Valid-Until "false"')
    command += [f"--customize-hook={hook}" for hook in hooks]
    return [*command, recipe.suite.name, str(output), *apt_source_lines(recipe.suite, mirrors)]


def recipe_key(recipe: GuestRecipe, mirrors: Mirrors) -> str:
    """Changes with anything that changes the disk: packages, hooks, mirrors, the host's files."""
    digest = hashlib.sha256()
    for part in mmdebstrap_command(recipe, Path("-"), mirrors, []):
        digest.update(part.encode() + b"\0")
    for target, content in sorted(guest_files(recipe).items()):
        digest.update(target.encode() + b"\0" + hashlib.sha256(content).digest())
    digest.update(DISK_SIZE.encode())
    return digest.hexdigest()[:12]


def ensure_disk(recipe: GuestRecipe, mirrors: Mirrors, say: Say) -> GuestDisk:
    """The guest's cached disk, bootstrapped and written first if it is not there."""
    directory = cache_dir() / "vm" / f"{recipe.name}-{recipe_key(recipe, mirrors)}"
    disk = GuestDisk(directory / "disk.raw", directory / "vmlinuz", directory / "initrd.img")
    if disk.image.exists():
        say(f"vm disk {recipe.name}: cached at {directory}")
        return disk
    partial = directory.with_name(directory.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    log = partial / "mmdebstrap.log"
    say(f"vm disk {recipe.name}: bootstrapping Debian {recipe.suite.name} (log: {log})")
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch) / "root"
        hooks = _copy_hooks(Path(scratch), guest_files(recipe))
        with log.open("w") as handle:
            result = subprocess.run(
                mmdebstrap_command(recipe, root, mirrors, hooks), stdout=handle, stderr=subprocess.STDOUT
            )
        if result.returncode != 0:
            raise HostTestError(f"vm disk {recipe.name}: mmdebstrap failed: see {log}")
        (kernel,) = sorted((root / "boot").glob("vmlinuz-*"))[-1:]
        (initrd,) = sorted((root / "boot").glob("initrd.img-*"))[-1:]
        shutil.copy(kernel, partial / "vmlinuz")
        shutil.copy(initrd, partial / "initrd.img")
        raw = partial / "disk.raw"
        subprocess.run(["truncate", "-s", DISK_SIZE, str(raw)], check=True)
        subprocess.run(["mke2fs", "-q", "-t", "ext4", "-d", str(root), str(raw)], check=True)
    shutil.rmtree(directory, ignore_errors=True)
    partial.rename(directory)
    for stale in directory.parent.glob(f"{recipe.name}-*"):
        if stale != directory:  # an older recipe's disk: gigabytes nothing uses again
            shutil.rmtree(stale, ignore_errors=True)
    say(f"vm disk {recipe.name}: built in {time.monotonic() - started:.0f} s")
    return disk
