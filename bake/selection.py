"""Which images a command acts on, from the tags named on its command line."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bake.matrix import Image, Matrix, RetiredVersion, tag_of
from bake.tags import moving_tags

# Not a tag: the slim image of the version `latest` is on that day. Commands written down (CI,
# the README) name it, so that they still test an image after that version's end of life.
DEFAULT_SLIM = "default-slim"


class SelectionError(ValueError):
    """A requested tag is not in the matrix."""


@dataclass(frozen=True)
class Selection:
    images: list[Image]
    skipped: list[str]  # one line for each named tag of a retired version


def valid_tags(matrix: Matrix) -> list[str]:
    return [tag for image in matrix.images for tag in moving_tags(image)]


def retired_tags(matrix: Matrix) -> dict[str, RetiredVersion]:
    """The tags of the versions past their end of life, with their version; `latest` too once
    every version is retired (it stays on the one that retired last)."""
    retired = {tag_of(version.python, variant): version for version in matrix.retired for variant in matrix.variants}
    if not matrix.images and matrix.retired:
        retired["latest"] = max(matrix.retired, key=lambda version: version.eol)
    return retired


def _what_is_valid(matrix: Matrix) -> str:
    if not matrix.images:
        return f"no tag is supported on {matrix.build_date}"
    return f"valid tags: {', '.join(valid_tags(matrix))} (and {DEFAULT_SLIM}: {default_slim_tag(matrix)})"


def default_slim_tag(matrix: Matrix) -> str | None:
    """What DEFAULT_SLIM names on the matrix's date; None once every version is retired."""
    return next((image.tag for image in matrix.images if image.is_default and image.variant == "slim"), None)


def _resolved(matrix: Matrix, requested: Sequence[str]) -> list[str]:
    default_slim = default_slim_tag(matrix)
    return [default_slim if tag == DEFAULT_SLIM and default_slim else tag for tag in requested]


def select(matrix: Matrix, requested: Sequence[str]) -> list[Image]:
    """The images named by `requested` in matrix order; every image when nothing is named.
    A tag that is not supported on the matrix's date, retired or never known, is an error."""
    requested = _resolved(matrix, requested)
    if not requested:
        return list(matrix.images)
    by_tag = {tag: image for image in matrix.images for tag in moving_tags(image)}
    retired = retired_tags(matrix)
    named_retired = [tag for tag in requested if tag in retired]
    if named_retired:
        tag = named_retired[0]
        raise SelectionError(f"{tag} is retired: {retired[tag]}; {_what_is_valid(matrix)}")
    unknown = [tag for tag in requested if tag not in by_tag]
    if unknown:
        raise SelectionError(f"unknown tag {', '.join(repr(tag) for tag in unknown)}; {_what_is_valid(matrix)}")
    chosen = {by_tag[tag] for tag in requested}
    return [image for image in matrix.images if image in chosen]


def select_current(matrix: Matrix, requested: Sequence[str]) -> Selection:
    """Like `select`, but a named tag of a retired version is skipped with a line saying so:
    a command written before a version's end of life still runs after it."""
    requested = _resolved(matrix, requested)
    retired = retired_tags(matrix)
    skipped = [f"skipped: {tag} is retired: {retired[tag]}" for tag in dict.fromkeys(requested) if tag in retired]
    if DEFAULT_SLIM in requested:  # still unresolved: no version is supported on the date
        skipped.append(f"skipped: {DEFAULT_SLIM}: {_what_is_valid(matrix)}")
    current = [tag for tag in requested if tag not in retired and tag != DEFAULT_SLIM]
    if requested and not current:
        return Selection([], skipped)
    return Selection(select(matrix, current), skipped)
