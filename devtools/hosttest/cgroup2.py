"""The image's worker tuning on a cgroup v2 kernel, booted for real: the image built on this host
is loaded into a Debian 13 guest's Docker (systemd cgroup driver) and Podman (rootless), and
each case checks the worker count the limits given to the container imply.

Every CPU case sets WORKERS_PER_CORE=4 on a 2-CPU guest, so that a limit that is missed shows:
8 workers where the limit makes 4, or fewer with a memory limit (128 MiB a worker)."""

from __future__ import annotations

import json
import shlex
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from python_on_whales import docker

from bake.paths import REPO_ROOT
from devtools.hosttest.machine import HostTestError, Say
from devtools.hosttest.platform_archive import extract_platform
from devtools.hosttest.vm import PAYLOAD_MOUNT, VirtualMachine

PER_CORE = {"WORKERS_PER_CORE": "4"}
GUEST_DIRECTORY = "/root/limits"
PAYLOAD = PAYLOAD_MOUNT
ARCHIVE = "image.tar"
DIGEST_FILE = "image.digest"  # of the platform image's manifest, as the host's index lists it
GUEST_PLATFORM = "linux/amd64"


def pod_name(uid: str) -> str:
    """The slice kubelet gives a Burstable pod under the systemd driver; the uid's dashes become underscores."""
    return f"kubepods-burstable-pod{uid.replace('-', '_')}.slice"


# One pod per case: the cases run side by side, and two servers under one pod's memory limit
# could push each other out.
SMALL_POD = pod_name("5f1c2b1e-0d4a-4c8e-9f1e-2a9e6c1d7b3a")
SMALL_POD_HOST_NS = pod_name("8a3d6f20-4b1e-4e57-a0c9-3f2b7d915e64")
LARGE_POD = pod_name("0b7e3d52-91c4-4f0a-8d2e-6c5a4e9f1b70")
LARGE_POD_HOST_NS = pod_name("c46e1a8f-2d73-49b5-b81e-7f0d5a3c2e19")
POD_SLICE_UNIT = """[Unit]
Description=a Kubernetes pod's slice, as kubelet makes it
[Slice]
CPUAccounting=yes
MemoryAccounting=yes
CPUQuota={cpu_percent}%
MemoryMax={memory}
"""
MEMORY_MAX = "/sys/fs/cgroup/memory.max"
FAKE_MEMORY_MAX = f"{GUEST_DIRECTORY}/fake/memory.max"
TESTER = "tester"  # the guest's ordinary user, with subordinate ids and a lingering systemd user session
PODMAN = ["runuser", "-u", TESTER, "--", "env", f"--chdir=/home/{TESTER}", "XDG_RUNTIME_DIR=/run/user/1000",
          "DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/1000/bus", "podman"]  # fmt: skip


def pod_slice(name: str, cpu_percent: int, memory: str) -> str:
    """Shell that makes the pod's slice with these limits (kubelet writes the same cpu.max, memory.max)."""
    unit = POD_SLICE_UNIT.format(cpu_percent=cpu_percent, memory=memory)
    return (
        f"systemctl stop {name} 2>/dev/null; printf %s {shlex.quote(unit)} > /run/systemd/system/{name}"
        f" && systemctl daemon-reload && systemctl start {name}"
    )


def read_only_volume(source: str, target: str) -> str:
    return "--volume=" + ":".join((source, target, "ro"))


def fake_file(path: str, content: str, mode: str = "0644") -> str:
    return f"mkdir -p $(dirname {path}) && printf %s {shlex.quote(content)} > {path} && chmod {mode} {path}"


@dataclass(frozen=True)
class LimitsCase:
    name: str
    options: tuple[str, ...]
    workers: int  # what the limits given make, by the README's rule
    why: str
    environment: dict[str, str] = field(default_factory=lambda: dict(PER_CORE))
    setup: str = ""
    warnings: tuple[str, ...] = ()  # the start of each warning line expected, each once or more
    port: int | None = None  # a port published to the guest, where GET / must answer 200
    stop: bool = False  # stopped by the engine: it must end by itself with exit code 0


DOCKER_CASES = (
    LimitsCase("no limits", (), 8, "4 x 2 CPUs: the guest's own"),
    LimitsCase("--cpus 1", ("--cpus", "1"), 4, "cpu.max 100000 100000: 1 CPU"),
    LimitsCase("--cpus 0.5", ("--cpus", "0.5"), 4, "a half CPU rounds up to 1"),
    LimitsCase("--cpuset-cpus 0", ("--cpuset-cpus", "0"), 4, "the affinity: 1 CPU"),
    LimitsCase("--memory 256m", ("--memory", "256m"), 2, "memory.max 256 MiB / 128 MiB a worker"),
    LimitsCase("--cgroupns=host --cpus 1", ("--cgroupns=host", "--cpus", "1"), 4, "its own cgroup, read by path"),
    LimitsCase(
        "pod slice, private namespace",
        (f"--cgroup-parent={SMALL_POD}",),
        8,
        "the pod's 1 CPU and 256 MiB are above the namespace's root: not seen, the guest's 2 CPUs count",
        setup=pod_slice(SMALL_POD, 100, "256M"),
    ),
    LimitsCase(
        "pod slice, host namespace",
        (f"--cgroup-parent={SMALL_POD_HOST_NS}", "--cgroupns=host"),
        2,
        "the pod's 1 CPU (4 workers) and 256 MiB (2 workers), read up the path",
        setup=pod_slice(SMALL_POD_HOST_NS, 100, "256M"),
    ),
    LimitsCase(
        "pod slice and container limits, private namespace",
        (f"--cgroup-parent={LARGE_POD}", "--cpus", "0.5", "--memory", "256m"),
        2,
        "the container's own limits, as kubelet sets them under the pod's (2 CPUs, 1 GiB)",
        setup=pod_slice(LARGE_POD, 200, "1G"),
    ),
    LimitsCase(
        "pod slice and container limits, host namespace",
        (f"--cgroup-parent={LARGE_POD_HOST_NS}", "--cgroupns=host", "--cpus", "0.5", "--memory", "256m"),
        2,
        "the smallest along the path: the container's",
        setup=pod_slice(LARGE_POD_HOST_NS, 200, "1G"),
    ),
    LimitsCase(
        "malformed cpu.max",
        ("--cpus", "1", read_only_volume(f"{GUEST_DIRECTORY}/fake/cpu.max", "/sys/fs/cgroup/cpu.max")),
        8,
        "the quota is ignored with a warning; the affinity (2 CPUs) counts",
        setup=fake_file(f"{GUEST_DIRECTORY}/fake/cpu.max", "1O0000 100000\n"),
        warnings=("warning: /sys/fs/cgroup/cpu.max: ignoring '1O0000 100000'",),
    ),
    LimitsCase(
        "unreadable memory.max",
        ("--memory", "256m", "--user", "10001:0", "--env=PORT=8080", read_only_volume(FAKE_MEMORY_MAX, MEMORY_MAX)),
        8,
        "the memory limit cannot be read by the container's user: a warning, no cap",
        setup=fake_file(FAKE_MEMORY_MAX, "268435456\n", mode="0600"),
        warnings=("warning: /sys/fs/cgroup/memory.max: cannot be read",),
    ),
)

PODMAN_CASES = (
    LimitsCase(
        "podman rootless --cpus 1 --memory 256m --read-only",
        ("--cpus", "1", "--memory", "256m", "--read-only", "--publish", "127.0.0.1:8080:80"),
        2,
        "1 CPU (4 workers) and 256 MiB (2 workers), through the user's delegated cgroup",
        port=8080,
        stop=True,
    ),
)


@dataclass(frozen=True)
class CaseResult:
    case: LimitsCase
    ok: bool
    detail: str


def judge(case: LimitsCase, found: dict[str, Any]) -> CaseResult:
    """What the guest saw against what the case's limits make; every difference named."""
    if "error" in found:
        return CaseResult(case, False, f"could not run: {found['error']}")
    problems = []
    settings = found.get("settings") or {}
    if settings.get("count") != case.workers:
        problems.append(f"the settings line says {settings.get('count')} workers")
    if found.get("processes") != case.workers:
        problems.append(f"{found.get('processes')} worker processes")
    for expected in case.warnings:
        if not any(line.startswith(expected) for line in found.get("warnings", [])):
            problems.append(f"no warning {expected!r}")
    unexpected = [line for line in found.get("warnings", []) if not line.startswith(case.warnings)]
    if unexpected:
        problems.append(f"unexpected warnings {unexpected}")
    if found.get("tracebacks"):
        problems.append("a traceback")
    if case.port is not None and found.get("status") != 200:
        problems.append(f"GET / answered {found.get('status')}")
    if case.stop and found.get("exit_code") != 0:
        problems.append(f"stopped with exit code {found.get('exit_code')} after {found.get('stop_seconds')} s")
    seen = f"{found.get('processes')} workers in {found.get('seconds_to_workers')} s"
    if case.stop:
        seen += f", stopped with exit code {found.get('exit_code')} in {found.get('stop_seconds')} s"
    if problems:
        tail = " | ".join(found.get("logs_tail", []))
        return CaseResult(case, False, f"expected {case.workers} ({case.why}): {'; '.join(problems)} [{tail}]")
    return CaseResult(case, True, f"{seen} ({case.why})")


def payload(image: str, directory: Path) -> Path:
    """What the guest reads from its second disk: the image's GUEST_PLATFORM image out of the
    saved index, the digest of its manifest, and the runner."""
    directory.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        saved = Path(scratch) / "index.tar"
        docker.image.save(image, output=saved)
        extracted = extract_platform(saved, GUEST_PLATFORM, directory / ARCHIVE)
    (directory / DIGEST_FILE).write_text(extracted.digest)
    devtools = Path(__file__).resolve().parents[1]
    for source in (devtools / "polling.py", devtools / "server_probes.py", devtools / "hosttest" / "guest_limits.py"):
        (directory / source.name).write_text(source.read_text())
    (directory / "bake").mkdir(exist_ok=True)  # what server_probes imports of the build system
    for source in (
        REPO_ROOT / "bake" / "__init__.py",
        REPO_ROOT / "bake" / "errors.py",
        REPO_ROOT / "bake" / "progress.py",
    ):
        (directory / "bake" / source.name).write_text(source.read_text())
    return directory


def _run_cases(
    machine: VirtualMachine, engine: list[str], image: str, cases: tuple[LimitsCase, ...]
) -> list[CaseResult]:
    plan = {"engine": engine, "image": image, "cases": [asdict(case) for case in cases]}
    with tempfile.TemporaryDirectory() as scratch:
        plan_file = Path(scratch) / "plan.json"
        plan_file.write_text(json.dumps(plan))
        machine.copy([plan_file], GUEST_DIRECTORY)
    step = machine.run(f"python3 {PAYLOAD}/guest_limits.py {GUEST_DIRECTORY}/plan.json", timeout=3600)
    found = {line["case"]: line for line in map(json.loads, _json_lines(step.output))}
    missing = {"error": f"no result (runner exit {step.returncode}): {step.tail(5)}"}
    return [judge(case, found.get(case.name, missing)) for case in cases]


def _json_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("{")]


def _loaded_image(machine: VirtualMachine, engine: str, load_output: str, digest_field: str) -> str:
    """The loaded image's name, once the engine shows it is the host's platform image (the
    manifest digest the payload names)."""
    names = [line.split(":", 1)[1].strip() for line in load_output.splitlines() if line.startswith("Loaded image")]
    if not names:
        raise HostTestError(f"the engine loaded no image:\n{load_output}")
    inspect = f"{engine} image inspect --format '{{{{{digest_field}}}}}' {shlex.quote(names[0])}"
    check = machine.run(f'test "$({inspect})" = "$(cat {PAYLOAD}/{DIGEST_FILE})"')
    if not check.ok:
        raise HostTestError(f"{names[0]} in the guest is not the host's {GUEST_PLATFORM} image: {check.tail(3)}")
    return names[0]


def docker_limits(machine: VirtualMachine, say: Say) -> tuple[list[CaseResult], str]:
    facts = machine.run("docker info --format '{{.CgroupVersion}} {{.CgroupDriver}} {{.ServerVersion}}'")
    if not facts.ok or not facts.output.startswith("2 systemd"):
        raise HostTestError(f"the guest's engine is not on cgroup v2 with the systemd driver: {facts.output.strip()}")
    load = machine.run(f"docker load -i {PAYLOAD}/{ARCHIVE}", timeout=1800)
    if not load.ok:
        raise HostTestError(f"docker load failed: {load.tail()}")
    engine = f"Docker {facts.output.split()[2]}, cgroup v2, systemd driver"
    say(f"{machine.name}: {engine}; image loaded in {load.seconds:.0f} s")
    image = _loaded_image(machine, "docker", load.output, ".Id")  # the containerd store names it by its manifest
    return _run_cases(machine, ["docker"], image, DOCKER_CASES), facts.output.strip()


def podman_limits(machine: VirtualMachine, say: Say) -> tuple[list[CaseResult], str]:
    podman = shlex.join(PODMAN)
    version = machine.run(f"{podman} version --format '{{{{.Client.Version}}}}'")
    archive = f"/home/{TESTER}/{ARCHIVE}"
    load = machine.run(f"cp {PAYLOAD}/{ARCHIVE} {archive} && chown {TESTER} {archive} && {podman} load -i {archive}",
                       timeout=1800)  # fmt: skip
    if not version.ok or not load.ok:
        raise HostTestError(f"podman could not load the image: {version.tail(3)} {load.tail()}")
    say(f"{machine.name}: Podman {version.output.strip()} rootless; image loaded in {load.seconds:.0f} s")
    image = _loaded_image(machine, podman, load.output, ".Digest")
    return _run_cases(machine, PODMAN, image, PODMAN_CASES), version.output.strip()
