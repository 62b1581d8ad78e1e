"""The locked, hash-checked requirements each image installs: one file per CPython version and
platform for the server stack (common/locks/) and for each flavor's framework
(images/flavors/FLAVOR/locks/, what the framework adds to the stack). `nox -s lock` writes them;
the image's native stages (images/native_install.py) install from them. Standard library only."""

from __future__ import annotations

import importlib.util
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType

from bake.core.matrix import Flavor, Image
from bake.paths import NATIVE_INSTALL, REPO_ROOT, STACK_REQUIREMENTS

LOCK_COMMAND = "nox -s lock"
# Distributions the base images bring themselves: a lock holding one would overwrite them.
BASE_OWN = frozenset({"pip", "setuptools", "wheel"})
_REQUIREMENT = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==(\S+)$")


@dataclass(frozen=True, order=True)
class Target:
    """A CPython version on one platform: what one lock file is for."""

    python: str
    platform: str  # linux/arm64

    @property
    def file_name(self) -> str:
        """As images/Dockerfile composes it: python${PYTHON_VERSION}-${TARGETOS}-${TARGETARCH}.txt"""
        return f"python{self.python}-{self.platform.replace('/', '-')}.txt"


def targets(images: Iterable[Image]) -> list[Target]:
    return sorted({Target(image.python, platform) for image in images for platform in image.platforms})


def stack_lock(target: Target) -> Path:
    return REPO_ROOT / "common" / "locks" / target.file_name


def flavor_lock(flavor: Flavor, target: Target) -> Path:
    return REPO_ROOT / flavor.directory / "locks" / target.file_name


@cache
def _native_install() -> ModuleType:
    """images/native_install.py, the one reader of lock files (the image build runs it alone)."""
    spec = importlib.util.spec_from_file_location("native_install", NATIVE_INSTALL)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def normalized(name: str) -> str:
    result: str = _native_install().normalized(name)
    return result


def locked(text: str) -> dict[str, str]:
    """The pins of a lock file: normalized name -> version."""
    return {pin.name: pin.version for pin in _native_install().pins(text)}


def hashes_of(text: str) -> dict[str, int]:
    """How many hashes each pin of a lock file carries."""
    return {pin.name: pin.text.count("--hash=sha256:") for pin in _native_install().pins(text)}


def requirements(lines: Iterable[str]) -> dict[str, str]:
    """The pins of a requirements file (NAME[extras]==VERSION lines; comments ignored)."""
    pinned: dict[str, str] = {}
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        match = _REQUIREMENT.match(line)
        if match is None:
            raise ValueError(f"requirement {line!r} is not pinned as NAME==VERSION")
        pinned[normalized(match.group(1))] = match.group(2)
    return pinned


def stack_requirements() -> dict[str, str]:
    return requirements(STACK_REQUIREMENTS.read_text().splitlines())
