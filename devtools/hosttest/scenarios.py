"""The scenarios `nox -s hosts` runs, one result line each.

fresh           Debian 12 with systemd and nothing else: one ./setup-host.sh, then the image tests
rerun           the same host twice more: nothing may change, and the script must say so
stop            the same host: `stop` stops what the script started (units apt started with it),
                a second start goes through systemctl, an unknown argument is one line
docker.io       a fresh host where trixie's docker.io (with docker-cli) runs under systemd without
                the containerd image store and daemon.json has other settings: merged, restarted
too-old         a fresh host running Debian 12's own docker.io 20.10: one line, nothing changed
keeps-ce        a fresh host with Docker CE's containerd.io (a stand-in package that conflicts with
                Debian's containerd, as the real one does): the engine install is refused, nothing removed
no-systemd      a fresh host without systemd (PID 1 is not an init): the script's own dockerd,
                reruns, `stop`, and a stale pid file naming an unrelated process
foreign         a host without systemd where a dockerd started by hand runs without the containerd
                image store: one line saying what to change; the engine and its config untouched
"""

from __future__ import annotations

import shlex
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bake.core.matrix import load_matrix
from bake.core.selection import select
from bake.engine.standin import recipe_for, rootfs_tarball
from bake.errors import BakeError
from bake.paths import REPO_ROOT
from devtools.hosttest.machine import CONTAINER_CACHE, Say, Step, TestHost

TAG = "python3.11-slim"
# Both platforms (arm64 under QEMU), the build secret, and CPU limits (cgroups of the nested engine).
DEFAULT_SUBSET = " or ".join(
    ["answers_with_its_python_version", "runs_the_platforms_architecture", "build_secret", "cpu_limit_sets_the_count"]
)
SETUP = "./setup-host.sh"
READY = "setup-host: ready"
UNCHANGED = "setup-host: ready, nothing changed"
# What a rerun must leave as it was: packages, apt and engine configuration, which processes
# run the engine, the script's own state, the tools, the binary formats.
FINGERPRINT = r"""{
dpkg-query -W -f='${Package} ${Version} ${Status}\n'
cat /etc/docker/daemon.json /etc/apt/sources.list.d/* /etc/apt/preferences.d/* 2>/dev/null
systemctl show -p MainPID -p ActiveEnterTimestamp containerd.service docker.socket docker.service 2>/dev/null
cat /var/run/docker.pid 2>/dev/null; echo; cat /run/uvicorn-gunicorn/* 2>/dev/null
cat /opt/uvicorn-gunicorn/tools/.requirements; readlink /usr/local/bin/nox; ls /proc/sys/fs/binfmt_misc
} | sha256sum"""
ENGINE_HAS_STORE = "docker info --format '{{json .DriverStatus}}' | grep -q io.containerd.snapshotter"
MAIN_PID = "systemctl show -p MainPID --value docker.service"
OTHER_SETTINGS = '{"log-opts": {"max-size": "10m"}}'


class Failed(BakeError):
    """A scenario's check failed; the message says which."""


@dataclass
class Outcome:
    name: str
    ok: bool
    seconds: float
    detail: str


def result_line(outcome: Outcome) -> str:
    return f"{outcome.name:<11} {'ok' if outcome.ok else 'FAILED':<6} {outcome.seconds:5.0f} s  {outcome.detail}"


def script_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("setup-host:")]


def ready(step: Step) -> bool:
    lines = script_lines(step.output)
    return step.ok and bool(lines) and lines[-1].startswith(READY)


def reran_quietly(step: Step) -> bool:
    """A rerun on a ready host says one thing: that it is ready and changed nothing."""
    lines = script_lines(step.output)
    return step.ok and len(lines) == 1 and lines[0].startswith(UNCHANGED)


def expect(condition: bool, failure: str, step: Step | None = None) -> None:
    if not condition:
        tail = f"\n{step.tail()}" if step is not None else ""
        raise Failed(f"{failure}{tail}")


def standin_tarballs(tag: str = TAG) -> list[Path]:
    """The host's cached stand-in root filesystems for the tag (named as bake.engine.standin names them)."""
    (image,) = select(load_matrix(), [tag])
    recipe = recipe_for(image)
    tarballs = [rootfs_tarball(recipe, platform.split("/")[1]) for platform in image.platforms]
    return [path for path in tarballs if path.is_file()]


def engine_suite_stanza(suite: str = "trixie") -> str:
    """The host's own Debian archive entry for `suite`, from bake.core.debian_sources' command line."""
    result = subprocess.run(
        [sys.executable, "-m", "bake.core.debian_sources", suite], cwd=REPO_ROOT, capture_output=True, text=True
    )
    if result.returncode != 0:
        raise Failed(f"python -m bake.core.debian_sources {suite}: {result.stderr.strip()}")
    return result.stdout


@dataclass
class Options:
    subset: str = DEFAULT_SUBSET
    host_cache: bool = True
    platforms: tuple[str, ...] = ()  # the image tests' --platform options; none: the README's default


def _run_setup(host: TestHost, arguments: str = "") -> Step:
    return host.run(f"{SETUP} {arguments}".strip(), timeout=1800)


def fresh(host: TestHost, options: Options, say: Say) -> str:
    expect(host.check("! command -v docker && ! command -v python3"), "not a fresh host: docker or python3 is there")
    if options.host_cache:
        tarballs = standin_tarballs()
        host.copy(tarballs, f"{CONTAINER_CACHE}/rootfs")
        say(f"{host.name}: copied {len(tarballs)} cached stand-in root filesystem(s) from the host")
    setup = _run_setup(host)
    expect(ready(setup), "./setup-host.sh did not end ready", setup)
    say(f"{host.name}: ./setup-host.sh ready in {setup.seconds:.0f} s")
    platforms = "".join(f" --platform={platform}" for platform in options.platforms)
    test = host.run(f"nox -s test -- {TAG}{platforms} -k {shlex.quote(options.subset)}", timeout=3 * 3600)
    expect(test.ok, f"nox -s test -- {TAG}{platforms} failed", test)
    passed = next((line.strip("= ") for line in reversed(test.lines) if " passed" in line), "passed")
    command = f"nox -s test -- {TAG}{platforms} -k ..."
    return f"./setup-host.sh {setup.seconds:.0f} s; {command} {test.seconds:.0f} s ({passed})"


def _fingerprint(host: TestHost) -> str:
    step = host.run(FINGERPRINT, timeout=120)
    expect(step.ok, "could not take the host's fingerprint", step)
    return step.output.strip()


def rerun(host: TestHost, options: Options, say: Say) -> str:
    before = _fingerprint(host)
    times = []
    for attempt in (1, 2):
        step = _run_setup(host)
        expect(reran_quietly(step), f"rerun {attempt} did more than say it changed nothing", step)
        expect(_fingerprint(host) == before, f"rerun {attempt} changed the host")
        times.append(f"{step.seconds:.1f} s")
    return f"2 reruns ({', '.join(times)}): nothing changed, and each said so"


def stop(host: TestHost, options: Options, say: Say) -> str:
    unknown = host.run(f"{SETUP} --bogus")
    expect(not unknown.ok and len(unknown.lines) == 1, "an unknown argument must give one line and fail", unknown)
    started = host.run("cat /run/uvicorn-gunicorn/systemd-units")
    expect(started.ok and "docker.service" in started.lines, "no record of the units apt started", started)
    stopped = _run_setup(host, "stop")
    expect(stopped.ok, "./setup-host.sh stop failed", stopped)
    expect(
        host.check("! systemctl is-active --quiet docker.service docker.socket containerd.service"),
        "stop left an engine unit running",
    )
    again = _run_setup(host)
    expect(ready(again) and "setup-host: starting docker.service" in again.lines, "no start via systemctl", again)
    expect(host.check(ENGINE_HAS_STORE), "restarted without the containerd image store")
    units = " ".join(started.lines)
    return f"stop stopped {units}; started again via systemctl in {again.seconds:.1f} s; a bad argument: 1 line"


def docker_io(host: TestHost, options: Options, say: Say) -> str:
    stanza = engine_suite_stanza()
    prepare = "\n".join(
        [
            f"cat >/etc/apt/sources.list.d/debian-trixie.sources <<'EOF'\n{stanza}EOF",
            "printf 'Package: *\\nPin: release n=trixie\\nPin-Priority: 100\\n' >/etc/apt/preferences.d/debian-trixie",
            f"mkdir -p /etc/docker && echo {shlex.quote(OTHER_SETTINGS)} >/etc/docker/daemon.json",
            "apt-get -q update",
            "DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends"
            " docker.io/trixie docker-cli/trixie containerd/trixie",
            f"{MAIN_PID} >/root/main-pid-before",
        ]
    )
    step = host.run(prepare, timeout=900)
    expect(step.ok, "could not install trixie's docker.io", step)
    expect(host.check(f"[ $(cat /root/main-pid-before) -gt 0 ] && ! {ENGINE_HAS_STORE}"), "precondition: no engine")
    setup = _run_setup(host)
    expect(ready(setup), "./setup-host.sh did not end ready", setup)
    expect("setup-host: restarting docker.service to apply it" in setup.lines, "not restarted via systemd", setup)
    expect(host.check(ENGINE_HAS_STORE), "the engine still lacks the containerd image store")
    expect(host.check(f'[ "$({MAIN_PID})" != "$(cat /root/main-pid-before)" ]'), "docker.service kept its process")
    kept = (
        "import json; c = json.load(open('/etc/docker/daemon.json')); "
        "assert c['log-opts'] == {'max-size': '10m'} and c['features'] == {'containerd-snapshotter': True}, c"
    )
    expect(host.check(f'python3 -c "{kept}"'), "daemon.json lost a setting")
    stopped = _run_setup(host, "stop")
    expect(
        stopped.ok and host.check("systemctl is-active --quiet docker.service"),
        "stop stopped an engine this script did not start",
        stopped,
    )
    merged = "merged daemon.json (kept log-opts), restarted docker.service"
    return f"./setup-host.sh {setup.seconds:.0f} s: {merged}; stop left it running"


def too_old(host: TestHost, options: Options, say: Say) -> str:
    step = host.run(
        "apt-get -q update && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends docker.io",
        timeout=900,
    )
    expect(step.ok and host.check("systemctl is-active --quiet docker.service"), "precondition: docker.io 20.10", step)
    before = _fingerprint(host)
    setup = _run_setup(host)
    expect(not setup.ok and len(setup.lines) == 1 and "too old" in setup.output, "expected one line: too old", setup)
    expect(_fingerprint(host) == before, "the refused run changed the host")
    expect(host.check("systemctl is-active --quiet docker.service"), "the installed engine stopped")
    return f"refused in {setup.seconds:.1f} s, nothing changed: {setup.lines[0]}"


# Like Docker CE's containerd.io, it takes the place of Debian's containerd and runc.
CONTAINERD_IO = """set -e
directory=$(mktemp -d)
mkdir "$directory/DEBIAN"
cat >"$directory/DEBIAN/control" <<'EOF'
Package: containerd.io
Version: 1.7.27-1
Architecture: all
Maintainer: uvicorn-gunicorn tests <root@localhost>
Provides: containerd, runc
Conflicts: containerd, runc
Replaces: containerd, runc
Description: stand-in for Docker CE's containerd.io
EOF
dpkg-deb --build "$directory" /root/containerd.io.deb >/dev/null
dpkg -i /root/containerd.io.deb"""


def keeps_ce(host: TestHost, options: Options, say: Say) -> str:
    step = host.run(CONTAINERD_IO)
    expect(step.ok, "could not install the stand-in containerd.io", step)
    setup = _run_setup(host)
    last = (script_lines(setup.output) or ["(nothing)"])[-1]
    expect(
        not setup.ok and last.startswith("setup-host: error: installing docker.io") and "containerd.io" in last,
        "expected one line refusing to remove containerd.io",
        setup,
    )
    expect(host.check("dpkg -s containerd.io >/dev/null && ! dpkg -s docker.io >/dev/null 2>&1"), "apt went ahead")
    return f"refused after {setup.seconds:.0f} s, containerd.io kept: {last}"


def no_systemd(host: TestHost, options: Options, say: Say) -> str:
    # Like Debian's own container images, so that apt starts no service.
    host.run("printf '#!/bin/sh\\nexit 101\\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d")
    setup = _run_setup(host)
    expect(ready(setup) and "setup-host: starting dockerd in the background" in setup.output, "no own dockerd", setup)
    for attempt in (1, 2):
        again = _run_setup(host)
        expect(reran_quietly(again), f"rerun {attempt} did more than say it changed nothing", again)
    stopped = _run_setup(host, "stop")
    expect(
        stopped.ok and host.check("! test -e /run/uvicorn-gunicorn/dockerd.pid && ! docker info >/dev/null 2>&1"),
        "stop left dockerd running",
        stopped,
    )
    stale = host.run(
        "sleep 600 >/dev/null 2>&1 & echo $! >/root/unrelated.pid; mkdir -p /run/uvicorn-gunicorn;"
        " cp /root/unrelated.pid /run/uvicorn-gunicorn/dockerd.pid; " + SETUP + " stop"
    )
    expect(stale.ok and "stale pid file" in stale.output, "a stale pid file was not recognised", stale)
    expect(host.check("kill -0 $(cat /root/unrelated.pid)"), "stop signalled an unrelated process")
    reruns = f"reruns {again.seconds:.1f} s"
    return f"./setup-host.sh {setup.seconds:.0f} s (own dockerd); {reruns}; stop; stale pid file left alone"


def foreign_engine(host: TestHost, options: Options, say: Say) -> str:
    stanza = engine_suite_stanza()
    prepare = "\n".join(
        [
            "printf '#!/bin/sh\\nexit 101\\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d",
            f"cat >/etc/apt/sources.list.d/debian-trixie.sources <<'EOF'\n{stanza}EOF",
            "printf 'Package: *\\nPin: release n=trixie\\nPin-Priority: 100\\n' >/etc/apt/preferences.d/debian-trixie",
            "apt-get -q update",
            "DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends"
            " docker.io/trixie docker-cli/trixie containerd/trixie docker-buildx/trixie",
            "setsid dockerd >/var/log/by-hand.log 2>&1 </dev/null &",
            "for _ in $(seq 120); do docker info >/dev/null 2>&1 && break; sleep 0.5; done",
        ]
    )
    step = host.run(prepare, timeout=900)
    expect(step.ok and host.check(f"docker info >/dev/null && ! {ENGINE_HAS_STORE}"), "precondition: engine", step)
    setup = _run_setup(host)
    last = (script_lines(setup.output) or ["(nothing)"])[-1]
    expect(not setup.ok and "was not started by systemd or this script" in last, "expected one line", setup)
    expect(host.check("! test -e /etc/docker/daemon.json && docker info >/dev/null"), "the engine was touched")
    return f"refused after {setup.seconds:.0f} s, engine and daemon.json untouched: {last}"


Scenario = Callable[[TestHost, Options, Say], str]
# name: (function, whether it boots systemd, the scenario whose host it continues on)
SCENARIOS: dict[str, tuple[Scenario, bool, str | None]] = {
    "fresh": (fresh, True, None),
    "rerun": (rerun, True, "fresh"),
    "stop": (stop, True, "fresh"),
    "docker.io": (docker_io, True, None),
    "too-old": (too_old, True, None),
    "keeps-ce": (keeps_ce, True, None),
    "no-systemd": (no_systemd, False, None),
    "foreign": (foreign_engine, False, None),
}


def timed(name: str, scenario: Scenario, host: TestHost, options: Options, say: Say) -> Outcome:
    started = time.monotonic()
    try:
        detail = scenario(host, options, say)
        return Outcome(name, True, time.monotonic() - started, detail)
    except Failed as failure:
        return Outcome(name, False, time.monotonic() - started, f"{failure} (log: {host.log})")
