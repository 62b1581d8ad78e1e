"""Installs a target platform's packages with the build machine's own CPU: no pip under emulation.

The native stages of images/Dockerfile and images/flavors/Dockerfile run it with the base image's
own interpreter and pip, for the build machine's architecture: the same CPython version and the
same Debian release (so the same glibc) as the target. pip chooses wheels by the platform that
sysconfig reports, and CPython takes that platform from _PYTHON_HOST_PLATFORM where it is set (for
cross builds): pip then takes exactly the wheels it would take on the target, and installs them as
it would there (console scripts and their shebang, RECORD). Nothing in a wheel is run at install
time. pip installs into this stage's own /usr/local, the very paths of the target (bytecode
records the path it was compiled at), without compiling: the files of the lock's distributions,
as their RECORD lists them, are dated FILE_TIME (where the build sets it, for reproducible
layers), their sources then compiled by this same CPython version (timestamp bytecode, which
records the dated mtime), and all of it copied to STAGE, whose every file and folder is dated
FILE_TIME too.

    download PLATFORM WHEELS WHEELHOUSE LOCK...
                                       the locks' wheels for PLATFORM into WHEELS, each checked
                                       against its hash; WHEELHOUSE (a cache) keeps those fetched
    install PLATFORM WHEELS LOCK STAGE -- PIP_ARGS...
                                       pip install PIP_ARGS from WHEELS alone (its options
                                       written --name or --name=value, one word each), then copy
                                       what it installed of LOCK's distributions under STAGE
                                       (- copies nothing: the packages stay where pip put them)
    sdists EMULATED                    in the image's own stage: build and install what the
                                       download left to emulation (nothing, as a rule), dated
                                       and compiled the same way

A package with no wheel for the platform and this CPython is named in one line and written, with
its hashes, to WHEELS/emulated.txt: the emulated stage builds it from its sdist, and `install`
then installs the lock's other packages as they are, without resolving. SDIST_ONLY (names,
separated by spaces or commas) sends packages that way although they have a wheel: a way out of
a wheel broken on one platform, and how that path is tested.
"""

from __future__ import annotations

import compileall
import importlib.metadata
import importlib.util
import os
import py_compile
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

# `uname -m` of each target architecture: what sysconfig.get_platform() says there.
MACHINES = {"amd64": "x86_64", "arm64": "aarch64"}
EMULATED = "emulated.txt"
SECRET_CA = Path("/run/secrets/pip-ca")
NO_WHEEL = "No matching distribution found"
# pip says NO_WHEEL too when it could not read the index (a proxy's certificate not trusted).
UNREACHABLE = "Could not fetch URL"
# pip as a build runs it: as root, without asking the index for a newer pip.
QUIET_PIP = {"PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_ROOT_USER_ACTION": "ignore"}
# The time of every file the image gets (images/Dockerfile): unset, files keep their own.
FILE_TIME = "FILE_TIME"
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==(\S+)")


@dataclass(frozen=True)
class Pin:
    name: str  # normalized, as in wheel file names: lower case, runs of -_. as _
    version: str
    text: str  # the requirement with its hashes, as the lock writes it

    @property
    def requirement(self) -> str:
        """NAME==VERSION as the lock writes it."""
        return self.text.split()[0]


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def pins(lock: str) -> list[Pin]:
    """The requirements of a lock file, each with its continuation lines (its hashes)."""
    found: list[Pin] = []
    lines: list[str] = []
    for line in [*lock.splitlines(), ""]:
        if line.startswith((" ", "\t")) and lines:
            lines.append(line)
            continue
        if lines:
            match = _PIN.match(lines[0])
            if match is None:
                sys.exit(f"error: lock line {lines[0]!r} is not valid: expected NAME==VERSION")
            found.append(Pin(normalized(match.group(1)), match.group(2), "\n".join(lines) + "\n"))
            lines = []
        if line.strip() and not line.lstrip().startswith("#"):
            lines = [line]
    return found


def host_platform(platform: str) -> str:
    """linux/arm64 -> linux-aarch64, as sysconfig.get_platform() says on that platform."""
    system, _, arch = platform.partition("/")
    if system != "linux" or arch not in MACHINES:
        sys.exit(f"error: PLATFORM={platform!r} is not valid: expected one of linux/{', linux/'.join(MACHINES)}")
    return f"linux-{MACHINES[arch]}"


def pip(
    platform: str | None, *words: str, check: bool = True, quiet_failure: bool = False
) -> subprocess.CompletedProcess[str]:
    """pip as the base image has it on PATH (its shebang names the interpreter that scripts get),
    choosing wheels for `platform` (None: its own); its output shown, unless it fails quietly."""
    environment = {
        **os.environ,
        **QUIET_PIP,
        **({"_PYTHON_HOST_PLATFORM": host_platform(platform)} if platform else {}),
    }
    command = [shutil.which("pip") or "pip", *words]
    result = subprocess.run(command, env=environment, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if result.returncode == 0 or not quiet_failure:
        print(result.stdout, end="", flush=True)
    if check and result.returncode != 0:
        sys.exit(result.returncode)
    return result


def _download(platform: str, wheels: Path, wheelhouse: Path, requirements: str) -> subprocess.CompletedProcess[str]:
    """`requirements` into `wheels`: from the wheelhouse alone where it has them all (no index
    asked: pip asks it again for every package, every time), else from the index through it."""
    with tempfile.NamedTemporaryFile("w", suffix=".txt") as file:
        file.write(requirements)
        file.flush()
        words = ["download", "--no-deps", "--only-binary=:all:", "--require-hashes", "-r", file.name]
        offline = [*words, "--no-index", "--find-links", str(wheelhouse), "-d", str(wheels)]
        if (result := pip(platform, *offline, check=False, quiet_failure=True)).returncode == 0:
            return result
        if (result := pip(platform, *words, "-d", str(wheelhouse), check=False)).returncode != 0:
            return result
        return pip(platform, *offline, check=False)


def _to_emulation(pin: Pin, emulated: Path, why: str) -> None:
    print(f"{why}: {pin.requirement}; its sdist is built under emulation", flush=True)
    with emulated.open("a") as handle:
        handle.write(pin.text)


def download(
    platform: str, wheels: Path, wheelhouse: Path, locks: list[Path], sdist_only: Collection[str] = ()
) -> None:
    """The locks' wheels; a pin named in `sdist_only` (SDIST_ONLY) is left to emulation as it is."""
    wheels.mkdir(parents=True, exist_ok=True)
    emulated = wheels / EMULATED
    emulated.touch()
    everything = [pin for lock in locks for pin in pins(lock.read_text())]
    for pin in [pin for pin in everything if pin.name in sdist_only]:
        _to_emulation(pin, emulated, "SDIST_ONLY names it")
    wanted = [pin for pin in everything if pin.name not in sdist_only]
    if not wanted or _download(platform, wheels, wheelhouse, "".join(pin.text for pin in wanted)).returncode == 0:
        return
    # One at a time, to tell a missing wheel from any other failure.
    python = "{}.{}".format(*sys.version_info[:2])
    for pin in wanted:
        result = _download(platform, wheels, wheelhouse, pin.text)
        if result.returncode == 0:
            continue
        if NO_WHEEL not in result.stdout or UNREACHABLE in result.stdout:
            sys.exit(result.returncode)  # not a missing wheel: the index out of reach, a bad hash ...
        _to_emulation(pin, emulated, f"no wheel for {platform} and CPython {python}")


def file_time() -> int | None:
    """FILE_TIME, the time every file of the image is dated (None where the build sets none)."""
    value = os.environ.get(FILE_TIME, "")
    if not value:
        return None
    if not value.isdigit():
        sys.exit(f"error: {FILE_TIME}={value!r} is not valid: expected seconds since 1970")
    return int(value)


def installed_files(names: set[str]) -> list[Path]:
    """Every file that the RECORD of each installed distribution of `names` lists."""
    return [
        Path(os.path.normpath(str(distribution.locate_file(file))))
        for distribution in importlib.metadata.distributions()
        if normalized(distribution.metadata["Name"]) in names
        for file in distribution.files or []
    ]


def compile_dated(files: list[Path], epoch: int | None) -> list[Path]:
    """Dates `files` `epoch`, then compiles the sources among them where they are (bytecode
    records its path) into timestamp bytecode, which records that date, as pip would without
    --no-compile; returns the bytecode files, dated alike."""
    for path in files:
        if epoch is not None:
            os.utime(path, (epoch, epoch), follow_symlinks=False)
    libraries = {sysconfig.get_path("purelib"), sysconfig.get_path("platlib")}
    sources = [path for path in files if path.suffix == ".py" and any(path.is_relative_to(top) for top in libraries)]
    timestamp = py_compile.PycInvalidationMode.TIMESTAMP  # even with SOURCE_DATE_EPOCH set
    for source in sources:
        if not compileall.compile_file(str(source), quiet=1, force=True, invalidation_mode=timestamp):
            sys.exit(f"error: {source} does not compile")
    compiled = [Path(importlib.util.cache_from_source(str(source))) for source in sources]
    for path in {path.parent for path in compiled} | set(compiled):
        if epoch is not None:
            os.utime(path, (epoch, epoch), follow_symlinks=False)
    return compiled


def date_tree(top: Path, epoch: int | None) -> None:
    """Every file and folder under `top`, and `top`, dated `epoch` (None: left as they are)."""
    if epoch is None:
        return
    for folder, _, names in os.walk(top, topdown=False):
        for name in names:
            os.utime(Path(folder, name), (epoch, epoch), follow_symlinks=False)
        os.utime(folder, (epoch, epoch))


def stage_installed(names: set[str], stage: Path) -> None:
    """Every file of the distributions `names` (those installed) dated and its sources compiled
    (see compile_dated), then copied to the same path under `stage` with its mode, and all of
    `stage` dated FILE_TIME."""
    epoch = file_time()
    files = installed_files(names)
    for source in [*files, *compile_dated(files, epoch)]:
        target = stage / str(source).lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target, follow_symlinks=False)
    date_tree(stage, epoch)


def install(platform: str, wheels: Path, lock: Path, stage: Path | None, pip_args: list[str]) -> None:
    missing = {pin.name for pin in pins((wheels / EMULATED).read_text())}
    locked = {pin.name for pin in pins(lock.read_text())}
    if not missing & locked:
        pip(platform, "install", "--no-compile", "--no-index", "--find-links", str(wheels), *pip_args)
        if stage:
            stage_installed(locked, stage)
        return
    # Without some package pip cannot resolve: the lock's other wheels go in as they are (its
    # pins already are a resolution), the requirements given are left to the emulated stage.
    files = [path for path in sorted(wheels.glob("*.whl")) if normalized(path.name.split("-")[0]) in locked - missing]
    options = [word for word in pip_args if word.startswith("--")]
    pip(platform, "install", "--no-compile", "--no-index", "--no-deps", *options, *map(str, files))
    if stage:
        stage_installed(locked - missing, stage)


def build_sdists(emulated: Path) -> None:
    """In the image's own stage, on the target's CPU: the packages the native stage left to it,
    dated and compiled as the native stage does, and every other file or folder pip wrote or
    changed (such as site-packages itself) dated FILE_TIME too."""
    if not emulated.read_text().strip():
        return
    started = time.time()
    words = ["install", "--no-compile", "--no-cache-dir", "--no-deps", "--no-binary=:all:", "--require-hashes"]
    pip(None, *words, "-r", str(emulated))
    epoch = file_time()
    compile_dated(installed_files({pin.name for pin in pins(emulated.read_text())}), epoch)
    if epoch is not None:
        touch = ["-exec", "touch", "-h", "-d", f"@{epoch}", "{}", "+"]
        subprocess.run(["find", "/", "-xdev", "-newermt", f"@{started}", *touch], check=True)


def trust_the_secret() -> None:
    """pip trusts the CA bundle of the build secret pip-ca where the build has one (a proxy's)."""
    if SECRET_CA.is_file() and SECRET_CA.stat().st_size > 0:
        os.environ["PIP_CERT"] = str(SECRET_CA)


def main(argv: list[str]) -> None:
    trust_the_secret()
    match argv:
        case ["download", platform, wheels, wheelhouse, *locks] if locks:
            sdist_only = {normalized(name) for name in os.environ.get("SDIST_ONLY", "").replace(",", " ").split()}
            download(platform, Path(wheels), Path(wheelhouse), [Path(lock) for lock in locks], sdist_only)
        case ["install", platform, wheels, lock, stage, "--", *pip_args]:
            install(platform, Path(wheels), Path(lock), None if stage == "-" else Path(stage), pip_args)
        case ["sdists", emulated]:
            build_sdists(Path(emulated))
        case _:
            sys.exit(f"error: arguments {' '.join(argv)!r} are not valid: expected\n{__doc__}")


if __name__ == "__main__":
    main(sys.argv[1:])
