"""`python -m devtools.hosttest [--scenario NAME ...] [--no-host-cache] [--keep] [--subset EXPR]`

Prints one result line per scenario with its time; exits non-zero if any failed. Runs on the
engine ./setup-host.sh set up on this host, and needs root (binary formats are restored here).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from python_on_whales import DockerException, docker

from bake.core.debian_sources import configured_mirrors
from bake.errors import reporting_errors
from bake.options import OptionParser
from bake.progress import say
from devtools.hosttest.machine import (
    Host,
    HostTestError,
    binfmt_entries,
    boot,
    ensure_image,
    ensure_rootfs,
    remove,
    restore_binfmt,
)
from devtools.hosttest.scenarios import DEFAULT_SUBSET, SCENARIOS, Options, Outcome, result_line, timed

PREFIX = "uvicorn-gunicorn-hosttest"


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = OptionParser("nox -s hosts", __doc__.splitlines()[2])
    parser.add_argument("--scenario", action="append", choices=list(SCENARIOS), help="run only these (repeatable)")
    parser.add_argument(
        "--no-host-cache",
        dest="host_cache",
        action="store_false",
        help="bootstrap the stand-in bases inside the test host instead of copying this host's cached "
        "root filesystems in (truly from nothing: adds about 4 minutes)",
    )
    parser.add_argument("--keep", action="store_true", help="leave the test hosts and their image for inspection")
    parser.add_argument("--subset", default=DEFAULT_SUBSET, help="the -k expression for the image tests")
    parser.add_argument("--logs", type=Path, help="where each host's log goes (default: a new directory in /tmp)")
    return parser.parse(sys.argv[1:] if argv is None else argv)


def chosen(names: list[str] | None) -> list[str]:
    """In run order; a scenario that continues on another's host brings that one along."""
    wanted = set(names or SCENARIOS)
    for name in list(wanted):
        base = SCENARIOS[name][2]
        if base:
            wanted.add(base)
    return [name for name in SCENARIOS if name in wanted]


def _main(argv: list[str] | None) -> int:
    args = parse(argv)
    names = chosen(args.scenario)
    try:
        docker.system.info()
    except DockerException as error:
        say(f"hosts: this host's engine does not answer ({(error.stderr or '').strip()}): run ./setup-host.sh first")
        return 1
    if os.geteuid() != 0:
        say("hosts: must run as root (test hosts are privileged and binary formats are restored afterwards)")
        return 1
    formats = binfmt_entries()
    if "fresh" in names and "qemu-aarch64" not in formats:
        say("hosts: arm64 emulation is not registered on this host: run ./setup-host.sh first")
        return 1
    logs = args.logs or Path(tempfile.mkdtemp(prefix=f"{PREFIX}-"))
    logs.mkdir(parents=True, exist_ok=True)
    say(f"hosts: docker client {shutil.which('docker')}; logs in {logs}")
    started = time.monotonic()
    image = ensure_image(ensure_rootfs(configured_mirrors(), say))
    options = Options(subset=args.subset, host_cache=args.host_cache)
    outcomes: dict[str, Outcome] = {}
    hosts: dict[str, Host] = {}
    try:
        for name in names:
            function, systemd, base = SCENARIOS[name]
            if base and not (outcomes[base].ok and base in hosts):
                outcomes[name] = Outcome(name, False, 0, f"not run: {base} failed")
                continue
            if base is None:
                _retire(hosts, formats, args.keep)
                host_name = f"{PREFIX}-{name}-{os.getpid()}"
                try:
                    hosts[name] = boot(image, host_name, logs / f"{name}.log", say, systemd=systemd)
                except (DockerException, HostTestError) as error:
                    outcomes[name] = Outcome(name, False, 0, f"could not boot: {error}")
                    say(result_line(outcomes[name]))
                    continue
            host = hosts[base or name]
            say(f"hosts: {name} ...")
            outcomes[name] = timed(name, function, host, options, say)
            say(result_line(outcomes[name]))
    finally:
        _retire(hosts, formats, args.keep)
        if not args.keep:
            docker.image.remove(image, force=True)
    say("\n=== hosts: results")
    for outcome in outcomes.values():
        say(result_line(outcome))
    failed = [outcome.name for outcome in outcomes.values() if not outcome.ok]
    total = time.monotonic() - started
    passed = f"{len(outcomes) - len(failed)} of {len(outcomes)} passed"
    say(f"{'total':<11} {'FAILED' if failed else 'ok':<6} {total:5.0f} s  {passed}")
    return 1 if failed else 0


def _retire(hosts: dict[str, Host], formats: dict[str, str], keep: bool) -> None:
    """Removes the hosts so far (unless kept) and the binary formats they registered."""
    if not keep:
        for host in hosts.values():
            remove(host)
        hosts.clear()
    added, changed = restore_binfmt(formats)
    if added:
        say(f"hosts: unregistered the binary formats a test host added kernel-wide: {' '.join(added)}")
    if changed:
        raise SystemExit(f"hosts: this host's binary formats changed: {' '.join(changed)}; re-run ./setup-host.sh")


def main(argv: list[str] | None = None) -> int:
    return reporting_errors(lambda: _main(argv))


if __name__ == "__main__":
    sys.exit(main())
