"""The image matrix, read from images/matrix.toml."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Image:
    """One tag of the family: a CPython release in one variant, for several platforms."""

    python: str
    variant: str
    debian: DebianSuite
    platforms: tuple[str, ...]
    is_default: bool

    @property
    def tag(self) -> str:
        return f"python{self.python}" + ("" if self.variant == "full" else f"-{self.variant}")

    @property
    def target(self) -> str:
        """The bake target name: bake allows no dots in names."""
        return self.tag.replace(".", "_")

    @property
    def official_base(self) -> str:
        return f"python:{self.python}" + ("" if self.variant == "full" else f"-{self.variant}")


@dataclass(frozen=True)
class Matrix:
    images: tuple[Image, ...]

    def by_tag(self) -> dict[str, Image]:
        return {image.tag: image for image in self.images}


def _require(table: dict[str, Any], key: str, kind: type, where: str) -> Any:
    value = table.get(key)
    if not isinstance(value, kind):
        raise MatrixError(f"{where}: '{key}' must be a {kind.__name__}, got {value!r}")
    return value


def parse_matrix(data: dict[str, Any]) -> Matrix:
    default = _require(data, "default_python", str, "matrix")
    platforms = tuple(_require(data, "platforms", list, "matrix"))
    suites = {
        name: DebianSuite(name, tuple(_require(table, "pockets", list, f"debian.{name}")))
        for name, table in _require(data, "debian", dict, "matrix").items()
    }
    images: list[Image] = []
    for entry in _require(data, "python", list, "matrix"):
        version = _require(entry, "version", str, "python entry")
        where = f"python {version}"
        suite_name = _require(entry, "debian", str, where)
        if suite_name not in suites:
            raise MatrixError(f"{where}: debian suite {suite_name!r} has no [debian.{suite_name}] table")
        for variant in _require(entry, "variants", list, where):
            if variant not in VARIANTS:
                raise MatrixError(f"{where}: unknown variant {variant!r} (expected one of {', '.join(VARIANTS)})")
            images.append(Image(version, variant, suites[suite_name], platforms, version == default))
    tags = [image.tag for image in images]
    duplicated = sorted({tag for tag in tags if tags.count(tag) > 1})
    if duplicated:
        raise MatrixError(f"matrix: tags listed twice: {', '.join(duplicated)}")
    if not any(image.is_default for image in images):
        raise MatrixError(f"matrix: default_python {default!r} is not a listed version")
    return Matrix(tuple(images))


def load_matrix(path: Path = MATRIX_FILE) -> Matrix:
    with path.open("rb") as handle:
        return parse_matrix(tomllib.load(handle))
