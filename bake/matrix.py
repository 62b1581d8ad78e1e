"""The image matrix, read from images/matrix.toml."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
MATRIX_FILE = REPO_ROOT / "images" / "matrix.toml"
VARIANTS = ("full", "slim")


class MatrixError(ValueError):
    """The data file does not describe a valid matrix."""


@dataclass(frozen=True)
class DebianSuite:
    name: str
    pockets: tuple[str, ...]
    expired_release_ok: bool = False


@dataclass(frozen=True)
class Image:
    """One tag of the family: a CPython release in one variant, for several platforms."""

    python: str
    variant: str
    debian: DebianSuite | None  # None: no Debian suite ships this release
    platforms: tuple[str, ...]
    is_default: bool

    @property
    def variant_suffix(self) -> str:
        """How the variant shows in names: nothing for full, `-slim` for slim."""
        return "" if self.variant == "full" else f"-{self.variant}"

    @property
    def tag(self) -> str:
        return f"python{self.python}{self.variant_suffix}"

    @property
    def target(self) -> str:
        """The bake target name: bake allows no dots in names."""
        return self.tag.replace(".", "_")

    @property
    def official_base(self) -> str:
        return f"python:{self.python}{self.variant_suffix}"


@dataclass(frozen=True)
class RetiredVersion:
    python: str
    eol: date
    last_date_tag: str | None


@dataclass(frozen=True)
class Matrix:
    images: tuple[Image, ...]
    retired: tuple[RetiredVersion, ...]

    def by_tag(self) -> dict[str, Image]:
        return {image.tag: image for image in self.images}


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


def parse_matrix(data: dict[str, Any], build_date: date) -> Matrix:
    """The images of the releases that are not past their end of life on `build_date`."""
    default = _require(data, "default_python", str, "matrix")
    platforms = tuple(_require(data, "platforms", list, "matrix"))
    variants = _require(data, "variants", list, "matrix")
    unknown = [variant for variant in variants if variant not in VARIANTS]
    if unknown:
        raise MatrixError(f"matrix: unknown variant {unknown[0]!r} (expected one of {', '.join(VARIANTS)})")
    suites = _suites(data)
    images: list[Image] = []
    retired: list[RetiredVersion] = []
    versions = [_require(entry, "version", str, "python entry") for entry in _require(data, "python", list, "matrix")]
    duplicated = sorted({version for version in versions if versions.count(version) > 1})
    if duplicated:
        raise MatrixError(f"matrix: python versions listed twice: {', '.join(duplicated)}")
    for entry in data["python"]:
        version = entry["version"]
        where = f"python {version}"
        eol = _eol(entry, where)
        if eol <= build_date:
            retired.append(RetiredVersion(version, eol, entry.get("last_date_tag")))
            continue
        suite_name = entry.get("debian")
        if suite_name is not None and suite_name not in suites:
            raise MatrixError(f"{where}: debian suite {suite_name!r} has no [debian.{suite_name}] table")
        suite = suites[suite_name] if suite_name is not None else None
        images += [Image(version, variant, suite, platforms, version == default) for variant in variants]
    if not any(image.is_default for image in images):
        raise MatrixError(f"matrix: default_python {default!r} is not a supported version on {build_date}")
    return Matrix(tuple(images), tuple(retired))


def utc_today() -> date:
    """Today in UTC: the build date when none is given, the same on every runner."""
    return datetime.now(UTC).date()


def load_matrix(build_date: date | None = None, path: Path = MATRIX_FILE) -> Matrix:
    """The matrix on `build_date` (default: today, UTC)."""
    with path.open("rb") as handle:
        return parse_matrix(tomllib.load(handle), build_date or utc_today())
