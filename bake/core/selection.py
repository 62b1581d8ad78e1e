"""Which images a command acts on, from the tags named on its command line."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bake.core.matrix import FLAVOR_SEPARATOR, Image, Matrix, RetiredVersion, tag_of
from bake.core.tags import moving_tags
from bake.errors import BakeError

# Not a tag: the slim image of the version `latest` is on that day. Commands written down (CI,
# the README) name it, so that they still test an image after that version's end of life.
DEFAULT_SLIM = "default-slim"


class SelectionError(BakeError):
    """A requested tag is not in the matrix."""


@dataclass(frozen=True)
class Selection:
    images: list[Image]
    skipped: list[str]  # one line for each named tag of a retired version


def valid_tags(matrix: Matrix) -> list[str]:
    """The tags of the base images; a flavor's are the same, written FLAVOR:TAG."""
    return [tag for image in matrix.images for tag in moving_tags(image)]


def _flavored(flavor: str | None, tag: str) -> str:
    return f"{flavor}{FLAVOR_SEPARATOR}{tag}" if flavor else tag


def moving_names(image: Image) -> list[str]:
    """How command lines may name `image`: `python3.11`, `latest`, `fastapi:latest`, ..."""
    return [_flavored(image.flavor.name if image.flavor else None, tag) for tag in moving_tags(image)]


def _split_flavor(name: str) -> tuple[str | None, str]:
    flavor, separator, tag = name.rpartition(FLAVOR_SEPARATOR)
    return (flavor, tag) if separator else (None, name)


def with_bases(images: Sequence[Image]) -> list[Image]:
    """`images` with the base image of each flavor among them, base images first: a flavor is
    built on its base in the same bake, and only ever together with it."""
    bases = dict.fromkeys(image.base_image for image in images)
    flavors = dict.fromkeys(image for image in images if image.flavor)
    return [*bases, *flavors]


def with_base_names(requested: Sequence[str]) -> list[str]:
    """`requested` with the base tag of each FLAVOR:TAG before it: `fastapi:python3.11` adds `python3.11`."""
    names = [tag for name in requested for tag in (_split_flavor(name)[1], name)]
    return list(dict.fromkeys(names))


def _check_flavors(matrix: Matrix, requested: Sequence[str]) -> None:
    known = [flavor.name for flavor in matrix.flavors]
    for name in requested:
        flavor, _ = _split_flavor(name)
        if flavor is not None and flavor not in known:
            valid = f"valid flavors: {', '.join(known)}" if known else "images/matrix.toml defines no flavor"
            raise SelectionError(f"unknown flavor {flavor!r} in {name!r}; {valid}")


def retired_tags(matrix: Matrix) -> dict[str, RetiredVersion]:
    """The tags of the versions past their end of life, with their version; `latest` too once
    every version is retired (it stays on the one that retired last)."""
    flavors = [None, *(flavor.name for flavor in matrix.flavors)]
    retired = {
        _flavored(flavor, tag_of(version.python, variant)): version
        for flavor in flavors
        for version in matrix.retired
        for variant in matrix.variants
    }
    if not matrix.images and matrix.retired:
        for flavor in flavors:
            retired[_flavored(flavor, "latest")] = max(matrix.retired, key=lambda version: version.eol)
    return retired


def _what_is_valid(matrix: Matrix) -> str:
    if not matrix.images:
        return f"no tag is supported on {matrix.build_date}"
    flavors = ", ".join(flavor.name for flavor in matrix.flavors)
    flavored = f"; each also as FLAVOR{FLAVOR_SEPARATOR}TAG for the flavors {flavors}" if flavors else ""
    return f"valid tags: {', '.join(valid_tags(matrix))} (and {DEFAULT_SLIM}: {default_slim_tag(matrix)}){flavored}"


def default_slim_tag(matrix: Matrix) -> str | None:
    """What DEFAULT_SLIM names on the matrix's date; None once every version is retired."""
    return next((image.tag for image in matrix.images if image.is_default and image.variant == "slim"), None)


def _resolved(matrix: Matrix, requested: Sequence[str]) -> list[str]:
    """`requested` with DEFAULT_SLIM (also FLAVOR:default-slim) in place of the tag it names."""
    default_slim = default_slim_tag(matrix)
    resolved = []
    for name in requested:
        flavor, tag = _split_flavor(name)
        resolved.append(_flavored(flavor, default_slim) if tag == DEFAULT_SLIM and default_slim else name)
    return resolved


def select(matrix: Matrix, requested: Sequence[str]) -> list[Image]:
    """The images named by `requested` in matrix order; every image when nothing is named.
    A tag that is not supported on the matrix's date, retired or never known, is an error."""
    _check_flavors(matrix, requested)
    requested = _resolved(matrix, requested)
    if not requested:
        return list(matrix.family)
    by_tag = {name: image for image in matrix.family for name in moving_names(image)}
    retired = retired_tags(matrix)
    named_retired = [tag for tag in requested if tag in retired]
    if named_retired:
        tag = named_retired[0]
        raise SelectionError(f"{tag} is retired: {retired[tag]}; {_what_is_valid(matrix)}")
    unknown = [tag for tag in requested if tag not in by_tag]
    if unknown:
        raise SelectionError(f"unknown tag {', '.join(repr(tag) for tag in unknown)}; {_what_is_valid(matrix)}")
    chosen = {by_tag[tag] for tag in requested}
    return [image for image in matrix.family if image in chosen]


def select_current(matrix: Matrix, requested: Sequence[str]) -> Selection:
    """Like `select`, but a named tag of a retired version is skipped with a line saying so:
    a command written before a version's end of life still runs after it."""
    _check_flavors(matrix, requested)
    requested = _resolved(matrix, requested)
    retired = retired_tags(matrix)
    skipped = [f"skipped: {tag} is retired: {retired[tag]}" for tag in dict.fromkeys(requested) if tag in retired]
    unresolved = [name for name in requested if _split_flavor(name)[1] == DEFAULT_SLIM]
    for name in dict.fromkeys(unresolved):  # no version is supported on the date
        skipped.append(f"skipped: {name}: {_what_is_valid(matrix)}")
    current = [tag for tag in requested if tag not in retired and tag not in unresolved]
    if requested and not current:
        return Selection([], skipped)
    return Selection(select(matrix, current), skipped)
