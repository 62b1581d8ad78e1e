"""The image matrix, read from images/matrix.toml, as it stands on one build date."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any

from bake.core.reference import ImageReference
from bake.core.settings import utc_today
from bake.errors import BakeError
from bake.paths import MATRIX_FILE

VARIANTS = ("full", "slim")
OFFICIAL_REPOSITORY = "python"  # the official images each tag is built on
FLAVOR_SEPARATOR = ":"  # between flavor and tag on command lines: `fastapi:python3.11-slim`
VERSION_PATTERN = re.compile(r"^\d+\.\d+$")
FLAVOR_PATTERN = re.compile(r"^[a-z][a-z0-9]*$")


class MatrixError(BakeError):
    """The data file does not describe a valid matrix."""


@dataclass(frozen=True)
class DebianSuite:
    name: str
    pockets: tuple[str, ...]
    expired_release_ok: bool = False


@dataclass(frozen=True)
class Flavor:
    """A framework installed on every base tag, with a sample app: `IMAGE_NAME-fastapi:TAG`."""

    name: str
    requirements: tuple[str, ...]  # pinned, as pip takes them

    @property
    def directory(self) -> str:
        """Its sample app and notes, relative to the repository."""
        return f"images/flavors/{self.name}"


def tag_of(python: str, variant: str) -> str:
    """The moving tag of one version in one variant: `python3.11`, `python3.11-slim`."""
    return f"python{python}" if variant == "full" else f"python{python}-{variant}"


@dataclass(frozen=True)
class Image:
    """One tag of the family: a CPython release in one variant, for several platforms."""

    python: str
    variant: str
    debian: DebianSuite | None  # None: no Debian suite ships this release
    platforms: tuple[str, ...]
    is_default: bool  # this version carries `latest` (full) and is the default slim tag tested emulated
    flavor: Flavor | None = None  # None: the base image itself

    @property
    def variant_suffix(self) -> str:
        """How the variant shows in names: nothing for full, `-slim` for slim."""
        return "" if self.variant == "full" else f"-{self.variant}"

    @property
    def tag(self) -> str:
        return tag_of(self.python, self.variant)

    @property
    def name(self) -> str:
        """How command lines name it: `python3.11-slim`, `fastapi:python3.11-slim`."""
        return f"{self.flavor.name}{FLAVOR_SEPARATOR}{self.tag}" if self.flavor else self.tag

    @property
    def target(self) -> str:
        """The bake target name: bake allows no dots in names."""
        target = self.tag.replace(".", "_")
        return f"{self.flavor.name}-{target}" if self.flavor else target

    @property
    def base_image(self) -> Image:
        """The base image a flavor is built on; a base image is its own."""
        return replace(self, flavor=None)

    @property
    def official_base(self) -> str:
        return str(ImageReference(OFFICIAL_REPOSITORY, f"{self.python}{self.variant_suffix}"))


@dataclass(frozen=True)
class RetiredVersion:
    python: str
    eol: date
    last_date_tag: str | None

    def __str__(self) -> str:
        return f"python {self.python} reached end of life on {self.eol}"


@dataclass(frozen=True)
class Matrix:
    """What is built on `build_date`: the images of every version not past its end of life."""

    images: tuple[Image, ...]  # the base images
    retired: tuple[RetiredVersion, ...]
    build_date: date
    variants: tuple[str, ...]
    default_python: str  # as the data file names it; it may be retired on `build_date`
    flavors: tuple[Flavor, ...] = ()

    @property
    def flavored(self) -> tuple[Image, ...]:
        """Every flavor of every base image, flavor by flavor."""
        return tuple(replace(image, flavor=flavor) for flavor in self.flavors for image in self.images)

    @property
    def family(self) -> tuple[Image, ...]:
        """The base images, then their flavors: the order a build needs."""
        return self.images + self.flavored

    def by_tag(self) -> dict[str, Image]:
        return {image.tag: image for image in self.images}

    @property
    def latest_python(self) -> str | None:
        """The version that carries `latest` on `build_date`; None when every version is retired."""
        return next((image.python for image in self.images if image.is_default), None)

    @property
    def retired_default(self) -> RetiredVersion | None:
        """`default_python` when it is past its end of life (then `latest` is on the newest version)."""
        return next((version for version in self.retired if version.python == self.default_python), None)


def _require(table: dict[str, Any], key: str, kind: type, where: str) -> Any:
    value = table.get(key)
    if not isinstance(value, kind):
        raise MatrixError(f"{where}: '{key}' must be a {kind.__name__}, got {value!r}")
    return value


def _suites(data: dict[str, Any]) -> dict[str, DebianSuite]:
    suites = {}
    for name, table in _require(data, "debian", dict, "matrix").items():
        pockets = tuple(_require(table, "pockets", list, f"debian.{name}"))
        suites[name] = DebianSuite(name, pockets, bool(table.get("expired_release_ok", False)))
    return suites


def _eol(entry: dict[str, Any], where: str) -> date:
    value = entry.get("eol")
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise MatrixError(f"{where}: 'eol' must be a date YYYY-MM-DD, got {value!r}") from None


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def _versions(data: dict[str, Any]) -> list[dict[str, Any]]:
    """The python entries, each with a valid version, no version twice, at least one version."""
    entries = _require(data, "python", list, "matrix")
    if not entries:
        raise MatrixError("matrix: 'python' lists no version")
    versions = [_require(entry, "version", str, "python entry") for entry in entries]
    malformed = [version for version in versions if not VERSION_PATTERN.match(version)]
    if malformed:
        raise MatrixError(f"python entry: 'version' must be MAJOR.MINOR such as '3.11', got {malformed[0]!r}")
    duplicated = sorted({version for version in versions if versions.count(version) > 1})
    if duplicated:
        raise MatrixError(f"matrix: python versions listed twice: {', '.join(duplicated)}")
    return list(entries)


def _flavors(data: dict[str, Any]) -> tuple[Flavor, ...]:
    flavors = []
    for name, table in data.get("flavors", {}).items():
        if not FLAVOR_PATTERN.match(name):
            raise MatrixError(f"flavors: name {name!r} must be lowercase letters and digits, such as 'fastapi'")
        requirements = _require(table, "requirements", list, f"flavors.{name}")
        unpinned = [requirement for requirement in requirements if "==" not in str(requirement)]
        if not requirements or unpinned:
            raise MatrixError(f"flavors.{name}: 'requirements' must pin each version (name==X.Y), got {requirements!r}")
        flavors.append(Flavor(name, tuple(requirements)))
    return tuple(flavors)


def _suite_of(entry: dict[str, Any], suites: dict[str, DebianSuite], where: str) -> DebianSuite | None:
    name = entry.get("debian")
    if name is None:
        return None
    if name not in suites:
        raise MatrixError(f"{where}: debian suite {name!r} has no [debian.{name}] table")
    return suites[name]


def parse_matrix(data: dict[str, Any], build_date: date) -> Matrix:
    """The images of the releases that are not past their end of life on `build_date`. When
    `default_python` is past its own, `latest` goes to the newest version still supported."""
    default = _require(data, "default_python", str, "matrix")
    platforms = tuple(_require(data, "platforms", list, "matrix"))
    variants = tuple(_require(data, "variants", list, "matrix"))
    unknown = [variant for variant in variants if variant not in VARIANTS]
    if unknown:
        raise MatrixError(f"matrix: unknown variant {unknown[0]!r} (expected one of {', '.join(VARIANTS)})")
    suites = _suites(data)
    entries = _versions(data)
    if default not in {entry["version"] for entry in entries}:
        raise MatrixError(f"matrix: default_python {default!r} is not one of the listed python versions")
    supported: list[tuple[str, DebianSuite | None]] = []
    retired: list[RetiredVersion] = []
    for entry in entries:
        version = entry["version"]
        eol = _eol(entry, f"python {version}")
        if eol <= build_date:
            retired.append(RetiredVersion(version, eol, entry.get("last_date_tag")))
        else:
            supported.append((version, _suite_of(entry, suites, f"python {version}")))
    supported_versions = [version for version, _ in supported]
    latest = default if default in supported_versions else max(supported_versions, key=_version_key, default=None)
    images = tuple(
        Image(version, variant, suite, platforms, version == latest)
        for version, suite in supported
        for variant in variants
    )
    return Matrix(images, tuple(retired), build_date, variants, default, _flavors(data))


def load_matrix(build_date: date | None = None, path: Path = MATRIX_FILE) -> Matrix:
    """The matrix on `build_date` (default: today, UTC)."""
    with path.open("rb") as handle:
        return parse_matrix(tomllib.load(handle), build_date or utc_today())
