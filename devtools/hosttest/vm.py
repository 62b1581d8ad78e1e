"""A virtual machine with its own kernel (QEMU), reached over SSH on 127.0.0.1, as a test host.

KVM is used where a guest really boots under it; on this project's machines /dev/kvm opens but
a guest makes no progress past SeaBIOS, so the first boot of each host kernel and QEMU version
probes it (for KVM_PROBE_SECONDS) and remembers the verdict; otherwise QEMU emulates (TCG).
QEMU is killed on every way out: the context manager, SIGTERM (turned into SystemExit), and the
harness dying (the kernel's parent-death signal)."""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import json
import os
import platform
import re
import shlex
import signal
import socket
import subprocess
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from bake.engine.standin import cache_dir
from devtools.hosttest.machine import REPO_TARGET, HostTestError, Say, Step, TestHost
from devtools.hosttest.vm_disk import GuestDisk, harness_key
from devtools.polling import poll

QEMU = "qemu-system-x86_64"
KVM_PROBE_SECONDS = 20.0  # a guest under working KVM prints its first kernel line within a second or two
BOOT_SECONDS = 900.0  # to an SSH login, emulated, on a busy 2-core host
STOP_SECONDS = 180.0
MONITOR_SECONDS = 60.0  # QEMU's monitor socket, to its first answer
KERNEL_ARGUMENTS = "root=/dev/vda rw console=ttyS0 net.ifnames=0 panic=-1"
FIRST_KERNEL_LINE = b"Linux version"
_FORWARDED_SSH = re.compile(r"TCP\[HOST_FORWARD\]\s+\d+\s+127\.0\.0\.1\s+(\d+)\s+\S+\s+22\b")
_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class Accelerator:
    name: str  # "kvm" or "tcg"
    arguments: tuple[str, ...]
    reason: str

    def line(self) -> str:
        return f"vms: accelerator {self.name}: {self.reason}"


TCG_ARGUMENTS = ("-accel", "tcg,thread=multi")
KVM_ARGUMENTS = ("-accel", "kvm")


def _die_with_parent() -> None:
    """Runs in QEMU's process before exec: the kernel kills it when the harness dies."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def _verdict_path() -> Path:
    qemu = subprocess.run([QEMU, "--version"], capture_output=True, text=True, check=True).stdout.splitlines()[0]
    key = hashlib.sha256(f"{platform.release()}\0{qemu}".encode()).hexdigest()[:12]
    return cache_dir() / "vm" / f"kvm-verdict-{key}.json"


def kvm_boots(disk: GuestDisk, seconds: float = KVM_PROBE_SECONDS) -> bool:
    """Whether the guest's kernel prints its first line under KVM within `seconds`."""
    command = [QEMU, *KVM_ARGUMENTS, "-m", "512", "-display", "none", "-serial", "stdio", "-no-reboot"]
    command += ["-kernel", str(disk.kernel), "-initrd", str(disk.initrd), "-append", "console=ttyS0 panic=-1"]
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, preexec_fn=_die_with_parent
    ) as probe:
        output = probe.stdout
        assert output is not None
        os.set_blocking(output.fileno(), False)
        seen = bytearray()

        def kernel_spoke_or_qemu_ended() -> bool:
            seen.extend(output.read() or b"")
            return FIRST_KERNEL_LINE in seen or probe.poll() is not None

        try:
            poll(kernel_spoke_or_qemu_ended, bool, seconds, interval=0.2)
            return FIRST_KERNEL_LINE in seen
        finally:
            probe.kill()


def choose_accelerator(disk: GuestDisk) -> Accelerator:
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return Accelerator("tcg", TCG_ARGUMENTS, "no usable /dev/kvm")
    verdict = _verdict_path()
    if verdict.exists():
        known = json.loads(verdict.read_text())
    else:
        boots = kvm_boots(disk)
        known = {"kvm_boots": boots, "probed": time.strftime("%Y-%m-%d"), "seconds": KVM_PROBE_SECONDS}
        verdict.parent.mkdir(parents=True, exist_ok=True)
        verdict.write_text(json.dumps(known))
    if known["kvm_boots"]:
        return Accelerator("kvm", KVM_ARGUMENTS, f"a guest kernel booted under KVM (probed {known['probed']})")
    reason = (
        f"/dev/kvm opens but a guest printed no kernel line within {known['seconds']:.0f} s under KVM"
        f" (probed {known['probed']}, remembered in {verdict})"
    )
    return Accelerator("tcg", TCG_ARGUMENTS, reason)


def forwarded_ssh_port(usernet: str) -> int:
    """The host port QEMU bound (port 0: the kernel chose it) to forward to the guest's port 22."""
    match = _FORWARDED_SSH.search(usernet)
    if match is None:
        raise HostTestError(f"no forwarded SSH port in QEMU's network table:\n{usernet}")
    return int(match.group(1))


def _qmp(path: Path, command_line: str) -> str:
    """One human monitor command through QMP, and its text."""
    with socket.socket(socket.AF_UNIX) as connection:
        connection.settimeout(30)
        connection.connect(str(path))
        reader = connection.makefile("rb")
        reader.readline()  # the greeting
        for request in ({"execute": "qmp_capabilities"}, {
            "execute": "human-monitor-command", "arguments": {"command-line": command_line},
        }):  # fmt: skip
            connection.sendall(json.dumps(request).encode() + b"\n")
            while True:
                answer = json.loads(reader.readline())
                if "return" in answer or "error" in answer:
                    break
        if "error" in answer:
            raise HostTestError(f"QEMU's monitor refused {command_line!r}: {answer['error']}")
        return str(answer["return"])


PAYLOAD_MOUNT = "/mnt/payload"


def qemu_command(name: str, disk: GuestDisk, overlay: Path, directory: Path, accelerator: Accelerator,
                 memory_mb: int, cpus: int, payload: Path | None = None) -> list[str]:  # fmt: skip
    """The guest's user-mode network forwards only 127.0.0.1 (a port the kernel picks) to its SSH."""
    command = [
        QEMU, "-name", name, *accelerator.arguments, "-m", str(memory_mb), "-smp", str(cpus),
        "-kernel", str(disk.kernel), "-initrd", str(disk.initrd), "-append", KERNEL_ARGUMENTS,
        "-drive", f"file={overlay},format=qcow2,if=virtio",
        "-netdev", "user,id=n0,hostfwd=tcp:127.0.0.1:0-:22", "-device", "virtio-net-pci,netdev=n0",
        "-display", "none", "-serial", f"file:{directory / 'console.log'}",
        "-qmp", f"unix:{directory / 'qmp.sock'},server=on,wait=off", "-no-reboot",
    ]  # fmt: skip
    if payload is not None:
        command += ["-drive", f"file={payload},format=raw,if=virtio,readonly=on"]
    return command


def payload_disk(directory: Path, image: Path) -> Path:
    """A read-only ext4 disk holding `directory`'s files, mounted at PAYLOAD_MOUNT in the guest:
    far faster than copying large files over the emulated network."""
    size = sum(path.stat().st_size for path in directory.rglob("*") if path.is_file())
    subprocess.run(["truncate", "-s", str(size + size // 10 + (64 << 20)), str(image)], check=True)
    subprocess.run(["mke2fs", "-q", "-t", "ext4", "-d", str(directory), str(image)], check=True)
    return image


@dataclass
class VirtualMachine(TestHost):
    """A running guest; every command runs as root with bash in the repository's copy, logged."""

    name: str
    directory: Path
    process: subprocess.Popen[bytes]
    port: int
    log: Path
    steps: list[Step] = field(default_factory=list)

    @property
    def console(self) -> Path:
        return self.directory / "console.log"

    def _ssh(self, *remote: str) -> list[str]:
        options = ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR"]
        options += ["-o", "BatchMode=yes", "-o", "ConnectTimeout=30", "-o", "ServerAliveInterval=30"]
        return ["ssh", *options, "-i", str(harness_key()), "-p", str(self.port), "root@127.0.0.1", *remote]

    def _execute(self, command: str, timeout: int, log: TextIO) -> tuple[int, str]:
        remote = f"mkdir -p {REPO_TARGET} && cd {REPO_TARGET} && timeout {timeout} bash -c {shlex.quote(command)}"
        try:
            result = subprocess.run(
                self._ssh(remote), capture_output=True, timeout=timeout + 60, stdin=subprocess.DEVNULL
            )
            returncode, output = result.returncode, (result.stdout + result.stderr).decode(errors="replace")
        except subprocess.TimeoutExpired as expired:
            returncode, output = 124, f"{expired.output or b''!r}\n(ssh: no answer within {timeout + 60} s)"
        log.write(output)
        return returncode, output

    def copy(self, files: Iterable[Path], directory: str) -> None:
        """Copies files (each by its name) into `directory` of the guest."""
        for path in files:
            target = f"{directory}/{path.name}"
            with path.open("rb") as source:
                subprocess.run(
                    self._ssh(f"mkdir -p {shlex.quote(directory)} && cat > {shlex.quote(target)}"),
                    stdin=source,
                    check=True,
                    capture_output=True,
                )

    def copy_tree(self, root: Path, names: Iterable[str], directory: str) -> None:
        """Copies the files `names` (relative to `root`) into `directory`, keeping their paths and modes."""
        archive = subprocess.Popen(
            ["tar", "-C", str(root), "-cf", "-", "--null", "-T", "-"], stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )
        assert archive.stdin is not None and archive.stdout is not None
        archive.stdin.write(b"\0".join(name.encode() for name in names))
        archive.stdin.close()
        subprocess.run(
            self._ssh(f"mkdir -p {shlex.quote(directory)} && tar -C {shlex.quote(directory)} -xf -"),
            stdin=archive.stdout,
            check=True,
            capture_output=True,
        )
        if archive.wait() != 0:
            raise HostTestError(f"tar of {root} failed")

    def wait_for_ssh(self, seconds: float, say: Say) -> float:
        started = time.monotonic()

        def logged_in() -> bool:
            if self.process.poll() is not None:
                raise HostTestError(f"{self.name}: QEMU exited ({self.process.returncode}) before the guest answered:\n"
                                   f"{console_tail(self.console)}")  # fmt: skip
            probe = subprocess.run(self._ssh("true"), capture_output=True, stdin=subprocess.DEVNULL, timeout=120)
            return probe.returncode == 0

        if not poll(logged_in, bool, seconds, interval=2):
            raise HostTestError(f"{self.name}: no SSH login within {seconds:.0f} s:\n{console_tail(self.console)}")
        return time.monotonic() - started

    def power_off(self) -> float:
        """Shuts the guest down as a host shuts down; kills QEMU if it does not end in time."""
        started = time.monotonic()
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            subprocess.run(self._ssh("systemctl poweroff"), capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
        try:
            self.process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        return time.monotonic() - started


def console_tail(console: Path, lines: int = 25) -> str:
    if not console.exists():
        return "(no console output)"
    return "\n".join(console.read_text(errors="replace").splitlines()[-lines:])


def _sigterm_as_exit(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


@contextlib.contextmanager
def running_vm(
    name: str, disk: GuestDisk, accelerator: Accelerator, directory: Path, say: Say,
    memory_mb: int = 4096, cpus: int = 2, payload: Path | None = None,
) -> Iterator[VirtualMachine]:  # fmt: skip
    """A booted guest on a fresh overlay of `disk`, logged in once, with `payload`'s files at
    PAYLOAD_MOUNT; powered off, and its overlay removed, on the way out."""
    directory.mkdir(parents=True, exist_ok=True)
    overlay = directory / "overlay.qcow2"
    subprocess.run(
        ["qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b", str(disk.image), str(overlay)], check=True
    )
    payload_image = payload_disk(payload, directory / "payload.raw") if payload is not None else None
    previous = signal.signal(signal.SIGTERM, _sigterm_as_exit)
    command = qemu_command(name, disk, overlay, directory, accelerator, memory_mb, cpus, payload_image)
    process = subprocess.Popen(
        command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=(directory / "qemu.log").open("wb"),
        preexec_fn=_die_with_parent,
    )  # fmt: skip
    try:
        port = _await_port(directory / "qmp.sock", process)
        machine = VirtualMachine(name, directory, process, port, directory / "commands.log")
        seconds = machine.wait_for_ssh(BOOT_SECONDS, say)
        say(f"{name}: booted ({accelerator.name}) and answering SSH in {seconds:.0f} s")
        if payload_image is not None:
            mounted = machine.run(f"mkdir -p {PAYLOAD_MOUNT} && mount -o ro /dev/vdb {PAYLOAD_MOUNT}")
            if not mounted.ok:
                raise HostTestError(f"{name}: the payload disk did not mount: {mounted.tail(3)}")
        yield machine
        say(f"{name}: powered off in {machine.power_off():.0f} s")
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        overlay.unlink(missing_ok=True)
        if payload_image is not None:
            payload_image.unlink(missing_ok=True)
        signal.signal(signal.SIGTERM, previous)


def _await_port(qmp: Path, process: subprocess.Popen[bytes]) -> int:
    def port() -> int | None:
        if process.poll() is not None:
            raise HostTestError(f"QEMU exited at once ({process.returncode}): see {qmp.with_name('qemu.log')}")
        if qmp.exists():
            with contextlib.suppress(OSError):
                return forwarded_ssh_port(_qmp(qmp, "info usernet"))
        return None

    found = poll(port, lambda answer: answer is not None, MONITOR_SECONDS, interval=0.2)
    if found is None:
        raise HostTestError(f"QEMU's monitor did not answer at {qmp}")
    return found
