"""Stand-in base images, bootstrapped from a Debian mirror where no registry is reachable.

A stand-in keeps the contract of the official `python:X.Y[-slim]` image: `python`,
`python3` and `pip` on PATH, pip installing into the interpreter's own site-packages
under /usr/local, CA certificates present, and no bytecode: the official images' build
deletes every .pyc it made, while Debian's packages ship theirs, so a stand-in's image
leaves them out (a start costs here what it costs on the real base). Each root filesystem
is built once per (suite, variant, platform, recipe) and kept in a cache; the image is
reused while its recipe label matches.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import tarfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from python_on_whales import docker

from bake.core.debian_sources import Mirrors
from bake.core.matrix import DebianSuite, Image
from bake.core.reference import ImageReference
from bake.errors import BakeError
from bake.paths import STANDIN_DOCKERFILE
from bake.progress import say

STANDIN_REPOSITORY = "standin/python"
RECIPE_LABEL = "org.uvicorn-gunicorn.standin.recipe"
SUITE_LABEL = "org.uvicorn-gunicorn.standin.debian-suite"
DEFAULT_CACHE_DIR = Path("/var/cache/uvicorn-gunicorn")

# What the official images carry besides CPython: certificates, /etc/services, time zones;
# the full variant adds a compiler toolchain and headers so that pip can build sdists.
SLIM_PACKAGES = ("python{v}", "python{v}-venv", "ca-certificates", "netbase", "tzdata")
FULL_PACKAGES = (
    *SLIM_PACKAGES,
    "python{v}-dev",
    "build-essential",
    "pkg-config",
    "libffi-dev",
    "libssl-dev",
    "git",
    "curl",
)
PACKAGES = {"slim": SLIM_PACKAGES, "full": FULL_PACKAGES}
# Leave out what slim images leave out: manuals, documentation and translations.
DPKG_EXCLUDES = (
    "path-exclude=/usr/share/man/*",
    "path-exclude=/usr/share/doc/*",
    "path-include=/usr/share/doc/*/copyright",
    "path-exclude=/usr/share/locale/*",
    "path-exclude=/usr/share/info/*",
)
# /usr/local becomes a virtual environment of Debian's interpreter, which gives the
# official layout: /usr/local/bin/{python,python3,pip}, site-packages under /usr/local/lib.
CUSTOMIZE_HOOKS = (
    'chroot "$1" python{v} -m venv /usr/local',
    'rm -f "$1"/usr/lib/python{v}/EXTERNALLY-MANAGED',
    'chroot "$1" /usr/local/bin/python -m pip --version',
)
# What the image leaves out of the root filesystem, as the official images' build does.
BYTECODE_SUFFIX = ".pyc"
MERGED_USR_HOOKS = Path("/usr/share/mmdebstrap/hooks/maybe-merged-usr")
# Bootstraps are CPU-bound (arm64 runs under QEMU): one per core, however many images ask.
_BOOTSTRAP_SLOTS = threading.BoundedSemaphore(os.cpu_count() or 1)


class StandinError(BakeError):
    """A stand-in base could not be built."""


class NeedsRegistry(StandinError):
    """No Debian suite ships this CPython release, so only a registry can provide its base."""


@dataclass(frozen=True)
class Recipe:
    suite: DebianSuite
    python: str
    variant: str

    @property
    def packages(self) -> tuple[str, ...]:
        return tuple(package.format(v=self.python) for package in PACKAGES[self.variant])

    @property
    def hooks(self) -> tuple[str, ...]:
        return tuple(hook.format(v=self.python) for hook in CUSTOMIZE_HOOKS)

    @property
    def name(self) -> str:
        return f"{self.suite.name}-python{self.python}-{self.variant}"

    @property
    def rootfs_key(self) -> str:
        """What the bootstrapped root filesystem depends on (and, for the cache's sake, the
        image's Dockerfile): its cached tarball's name."""
        parts = [self.name, *self.suite.pockets, str(self.suite.expired_release_ok), *self.packages]
        parts += [*DPKG_EXCLUDES, *self.hooks, STANDIN_DOCKERFILE.read_text()]
        return _short_hash(parts)

    @property
    def key(self) -> str:
        """What the image depends on: the root filesystem and what is left out of it."""
        return _short_hash([self.rootfs_key, f"without *{BYTECODE_SUFFIX}"])


def _short_hash(parts: list[str]) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:12]


def recipe_for(image: Image) -> Recipe:
    if image.debian is None:
        raise NeedsRegistry(f"{image.tag} needs a registry: no Debian suite ships CPython {image.python}")
    return Recipe(image.debian, image.python, image.variant)


def standin_reference(image: Image) -> str:
    return str(ImageReference(STANDIN_REPOSITORY, f"{image.python}{image.variant_suffix}"))


def cache_dir() -> Path:
    return Path(os.environ.get("UVICORN_GUNICORN_CACHE", DEFAULT_CACHE_DIR))


def apt_source_lines(suite: DebianSuite, mirrors: Mirrors) -> list[str]:
    lines = [f"deb {mirrors.archive} {suite.name} main"]
    for pocket in suite.pockets:
        if pocket == "security":
            if mirrors.security:
                lines.append(f"deb {mirrors.security} {suite.name}-security main")
        else:
            lines.append(f"deb {mirrors.archive} {suite.name}-{pocket} main")
    return lines


def mmdebstrap_command(recipe: Recipe, arch: str, output: Path, mirrors: Mirrors) -> list[str]:
    command = [
        "mmdebstrap",
        "--variant=apt",
        f"--architectures={arch}",
        f"--include={','.join(recipe.packages)}",
        f"--hook-dir={MERGED_USR_HOOKS}",
    ]
    if recipe.suite.expired_release_ok:
        command.append('--aptopt=Acquire::Check-Valid-Until "false"')
    command += [f"--dpkgopt={option}" for option in DPKG_EXCLUDES]
    command += [f"--customize-hook={hook}" for hook in recipe.hooks]
    return [*command, recipe.suite.name, str(output), *apt_source_lines(recipe.suite, mirrors)]


def rootfs_tarball(recipe: Recipe, arch: str) -> Path:
    """Where the cache keeps the root filesystem of `recipe` for `arch`, as mmdebstrap made it."""
    return cache_dir() / "rootfs" / f"{recipe.name}-{arch}-{recipe.rootfs_key}.tar"


def copy_without_bytecode(source: Path, target: Path) -> None:
    """`source`, a tar archive, copied to `target` without its bytecode files; every other
    member (its extended headers too) as it was."""
    with tarfile.open(source) as original, tarfile.open(target, "w", format=tarfile.PAX_FORMAT) as copy:
        for member in original:
            if member.name.endswith(BYTECODE_SUFFIX) and (member.isfile() or member.islnk()):
                continue
            copy.addfile(member, original.extractfile(member) if member.isfile() else None)


def _build_rootfs(recipe: Recipe, arch: str, mirrors: Mirrors) -> Path:
    tarball = rootfs_tarball(recipe, arch)
    tarball.parent.mkdir(parents=True, exist_ok=True)
    label = f"stand-in rootfs {recipe.name}/{arch}"
    if tarball.exists():
        say(f"{label}: cached at {tarball}")
        return tarball
    log = tarball.with_suffix(".log")
    partial = tarball.with_suffix(".partial.tar")
    with _BOOTSTRAP_SLOTS, log.open("w") as handle:
        say(f"{label}: bootstrapping (log: {log})")
        started = time.monotonic()
        result = subprocess.run(
            mmdebstrap_command(recipe, arch, partial, mirrors), stdout=handle, stderr=subprocess.STDOUT
        )
    if result.returncode != 0:
        tail = log.read_text().strip().splitlines()[-1:] or ["(no output)"]
        raise StandinError(f"mmdebstrap for {recipe.name}/{arch} failed: {tail[0]} (full log: {log})")
    partial.rename(tarball)
    say(f"{label}: built in {time.monotonic() - started:.0f} s")
    return tarball


def _is_current(reference: str, recipe: Recipe) -> bool:
    if not docker.image.exists(reference):
        return False
    labels = docker.image.inspect(reference).config.labels or {}
    return labels.get(RECIPE_LABEL) == recipe.key


def ensure_standin(image: Image, mirrors: Mirrors) -> str:
    """The reference of a local stand-in base for `image`, built first if missing or stale."""
    recipe = recipe_for(image)
    reference = standin_reference(image)
    if _is_current(reference, recipe):
        say(f"stand-in base {reference}: up to date (recipe {recipe.key})")
        return reference
    arches = [platform.split("/")[1] for platform in image.platforms]
    with ThreadPoolExecutor(max_workers=len(arches)) as pool:
        tarballs = dict(zip(arches, pool.map(lambda arch: _build_rootfs(recipe, arch, mirrors), arches), strict=True))
    context = cache_dir() / "context" / recipe.key
    context.mkdir(parents=True, exist_ok=True)
    for arch, tarball in tarballs.items():
        rootfs = context / f"rootfs-{arch}.tar"
        rootfs.unlink(missing_ok=True)  # never written through: it was once a hard link to the cache's
        copy_without_bytecode(tarball, rootfs)
    docker.buildx.build(
        context,
        file=STANDIN_DOCKERFILE,
        platforms=list(image.platforms),
        labels={RECIPE_LABEL: recipe.key, SUITE_LABEL: recipe.suite.name},
        tags=[reference],
        load=True,
    )
    say(f"stand-in base {reference}: built from Debian {recipe.suite.name} for {', '.join(image.platforms)}")
    return reference
