"""The Python interpreter of a root filesystem: the one `python3` on the default PATH runs."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from .dpkg import owner_of
from .rootfs import inside, resolve

# The official images' PATH order: /usr/local first.
CANDIDATES = (PurePosixPath("/usr/local/bin/python3"), PurePosixPath("/usr/bin/python3"))
_PY_VERSION = re.compile(r'^#define PY_VERSION\s+"([^"]+)"', re.MULTILINE)
# CPython's banner in the binary or its library, e.g. b"3.11.14 (main, Oct  1 2026, ...)".
_BANNER = re.compile(rb"(?<![0-9.])(3\.\d+\.\d+(?:(?:a|b|rc)\d+)?\+?) \(")


@dataclass(frozen=True)
class Interpreter:
    path: PurePosixPath  # the executable, every link followed
    deb_package: str | None  # the dpkg package that installed it, if one did
    version: str | None  # read from its headers or binary when no package did


def _minor(path: PurePosixPath) -> str | None:
    match = re.search(r"python(3\.\d+)", path.name)
    return match.group(1) if match else None


def _version_from_headers(root: Path, prefix: PurePosixPath, minor: str) -> str | None:
    patchlevel = inside(root, prefix / "include" / f"python{minor}" / "patchlevel.h")
    if patchlevel.is_file():
        match = _PY_VERSION.search(patchlevel.read_text(errors="replace"))
        if match:
            return match.group(1)
    return None


def _version_from_binaries(root: Path, prefix: PurePosixPath, executable: PurePosixPath, minor: str) -> str | None:
    for candidate in (prefix / "lib" / f"libpython{minor}.so.1.0", executable):
        local = inside(root, candidate)
        if local.is_file():
            for match in _BANNER.finditer(local.read_bytes()):
                if match.group(1).decode().startswith(f"{minor}."):
                    return match.group(1).decode()
    return None


def find_interpreter(root: Path) -> Interpreter | None:
    for candidate in CANDIDATES:
        executable = resolve(root, candidate)
        if executable is None:
            continue
        owner = owner_of(root, executable)
        if owner:
            return Interpreter(executable, owner.split(":")[0], None)
        minor = _minor(executable)
        if minor is None:
            return Interpreter(executable, None, None)
        prefix = executable.parent.parent
        version = _version_from_headers(root, prefix, minor) or _version_from_binaries(root, prefix, executable, minor)
        return Interpreter(executable, None, version)
    return None
