"""`python -m devtools.hosttest.vms [--scenario NAME ...] [--logs DIR]`: real kernels, booted.

limits     the default slim tag, built on this host, loaded into a Debian 13 guest's Docker
           (cgroup v2, systemd driver): worker counts under CPU, CPU set and memory limits, the
           host cgroup namespace, a kubelet-shaped pod slice in both namespace modes, a malformed
           and an unreadable cgroup file
podman     the same guest (booted once for both): rootless Podman as an ordinary user, with
           --cpus 1 --memory 256m --read-only; it serves, counts its workers, stops gracefully
setup-12   a fresh Debian 12 guest with systemd: ./setup-host.sh, two reruns that change nothing,
           then the README's test command for a few amd64 image tests (VM_TEST_SUBSET)
setup-13   the same on Debian 13

One result line per scenario (and per case) with its time; exits non-zero if any failed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bake.core.debian_sources import Mirrors, configured_mirrors
from bake.core.matrix import DebianSuite, load_matrix
from bake.core.naming import local_reference
from bake.core.selection import select
from bake.core.settings import settings_from_environment
from bake.errors import reporting_errors
from bake.options import OptionParser
from bake.paths import REPO_ROOT
from bake.progress import say
from devtools.hosttest.cgroup2 import TESTER, CaseResult, docker_limits, payload, podman_limits
from devtools.hosttest.machine import REPO_TARGET, HostTestError, Say, repo_files
from devtools.hosttest.scenarios import Failed, Options, Outcome, fresh, rerun, result_line
from devtools.hosttest.vm import Accelerator, VirtualMachine, choose_accelerator, running_vm
from devtools.hosttest.vm_disk import GuestRecipe, ensure_disk

BOOKWORM = DebianSuite("bookworm", ("updates", "security"))
TRIXIE = DebianSuite("trixie", ("updates", "security"))
ENGINE_PACKAGES = (
    "docker.io", "docker-cli", "containerd", "python3",
    "podman", "uidmap", "passt", "dbus-user-session", "systemd-container",
)  # fmt: skip
ENGINE_HOOKS = (
    'mkdir -p "$1/etc/docker" && echo \'{"features": {"containerd-snapshotter": true}}\' > "$1/etc/docker/daemon.json"',
    f'chroot "$1" useradd --create-home --shell /bin/bash {TESTER}',
    # One range each (useradd may have added one already: two would overlap in newuidmap).
    f'echo {TESTER}:100000:65536 > "$1/etc/subuid" && echo {TESTER}:100000:65536 > "$1/etc/subgid"',
    f'mkdir -p "$1/var/lib/systemd/linger" && touch "$1/var/lib/systemd/linger/{TESTER}"',
)
GUESTS = {
    "engine": GuestRecipe("debian13-engine", TRIXIE, ENGINE_PACKAGES, ENGINE_HOOKS),
    "debian12": GuestRecipe("debian12-host", BOOKWORM),
    "debian13": GuestRecipe("debian13-host", TRIXIE),
}
TAG = "default-slim"
# A few amd64 image tests in a guest: serving, the build secret, and the limits module on cgroup v2.
VM_TEST_SUBSET = "answers_with_its_python_version or build_secret or test_limits"
VM_PLATFORMS = ("linux/amd64",)


@dataclass(frozen=True)
class Scenario:
    guest: str
    run: Callable[[VirtualMachine, Say], str]
    with_image: bool = False


def _all_passed(results: list[CaseResult], engine: str, say: Say) -> str:
    """Says each case's result; fails unless every one passed."""
    for result in results:
        say(f"  {result.case.name:<52} {'ok' if result.ok else 'FAILED':<6} {result.detail}")
    failed = sum(not result.ok for result in results)
    if failed:
        raise Failed(f"{failed} of {len(results)} cases failed on {engine}")
    return f"{len(results)} case(s) passed on {engine}"


def _limits(machine: VirtualMachine, say: Say) -> str:
    results, facts = docker_limits(machine, say)
    return _all_passed(results, f"Docker ({facts})", say)


def _podman(machine: VirtualMachine, say: Say) -> str:
    results, version = podman_limits(machine, say)
    return _all_passed(results, f"rootless Podman {version}", say)


def _setup_host(machine: VirtualMachine, say: Say) -> str:
    machine.copy_tree(REPO_ROOT, repo_files(), REPO_TARGET)
    options = Options(subset=VM_TEST_SUBSET, platforms=VM_PLATFORMS)
    return f"{fresh(machine, options, say)}; {rerun(machine, options, say)}"


SCENARIOS = {
    "limits": Scenario("engine", _limits, with_image=True),
    "podman": Scenario("engine", _podman, with_image=True),
    "setup-12": Scenario("debian12", _setup_host),
    "setup-13": Scenario("debian13", _setup_host),
}


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = OptionParser("nox -s vms", __doc__.splitlines()[0])
    parser.add_argument("--scenario", action="append", choices=list(SCENARIOS), help="run only these (repeatable)")
    parser.add_argument("--logs", type=Path, help="where each guest's console and commands go (default: a new dir)")
    return parser.parse(sys.argv[1:] if argv is None else argv)


def _image(say: Say) -> str:
    settings = settings_from_environment()
    (spec,) = select(load_matrix(settings.build_date), [TAG])
    reference = str(local_reference(spec, settings.image_name))
    say(f"vms: the image under test is {reference}, as built on this host")
    return reference


def _run_guest(
    guest: str, names: list[str], mirrors: Mirrors, logs: Path, image: str | None, say: Say
) -> list[Outcome]:
    """Boots one guest and runs each named scenario on it in turn; a boot failure fails them all."""
    outcomes: list[Outcome] = []
    started = time.monotonic()
    try:
        disk = ensure_disk(GUESTS[guest], mirrors, say)
        accelerator: Accelerator = choose_accelerator(disk)
        say(accelerator.line())
        with tempfile.TemporaryDirectory(prefix="vms-payload-") as scratch:
            files = payload(image, Path(scratch)) if image else None
            with running_vm(GUESTS[guest].name, disk, accelerator, logs / guest, say, payload=files) as machine:
                for name in names:
                    outcomes.append(_timed(name, machine, say))
    except (HostTestError, OSError) as error:
        seconds = time.monotonic() - started
        done = {outcome.name for outcome in outcomes}
        outcomes += [Outcome(name, False, seconds, f"guest {guest}: {error}") for name in names if name not in done]
    return outcomes


def _timed(name: str, machine: VirtualMachine, say: Say) -> Outcome:
    say(f"vms: {name} ...")
    started = time.monotonic()
    try:
        detail = SCENARIOS[name].run(machine, say)
        outcome = Outcome(name, True, time.monotonic() - started, detail)
    except (Failed, HostTestError) as error:
        outcome = Outcome(name, False, time.monotonic() - started, str(error))
    say(result_line(outcome))
    return outcome


def _main(argv: list[str] | None) -> int:
    args = parse(argv)
    if os.geteuid() != 0:
        say("vms: must run as root (mmdebstrap and the guests' disks)")
        return 1
    missing = [tool for tool in ("qemu-system-x86_64", "qemu-img", "mmdebstrap", "ssh") if shutil.which(tool) is None]
    if missing:
        say(f"vms: {', '.join(missing)} not found: run ./setup-host.sh --vms first")
        return 1
    names = args.scenario or list(SCENARIOS)
    logs = args.logs or Path(tempfile.mkdtemp(prefix="uvicorn-gunicorn-vms-"))
    say(f"vms: logs in {logs}")
    started = time.monotonic()
    mirrors = configured_mirrors()
    image = _image(say) if any(SCENARIOS[name].with_image for name in names) else None
    outcomes: list[Outcome] = []
    for guest in dict.fromkeys(SCENARIOS[name].guest for name in names):
        on_guest = [name for name in names if SCENARIOS[name].guest == guest]
        outcomes += _run_guest(guest, on_guest, mirrors, logs, image, say)
    say("\n=== vms: results")
    for outcome in outcomes:
        say(result_line(outcome))
    failed = [outcome for outcome in outcomes if not outcome.ok]
    passed = f"{len(outcomes) - len(failed)} of {len(outcomes)} passed"
    say(f"{'total':<11} {'FAILED' if failed else 'ok':<6} {time.monotonic() - started:5.0f} s  {passed}")
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    return reporting_errors(lambda: _main(argv))


if __name__ == "__main__":
    sys.exit(main())
