"""Which images a command acts on, from the tags named on its command line."""

from __future__ import annotations

from collections.abc import Sequence

from bake.matrix import Image, Matrix
from bake.tags import moving_tags


class SelectionError(ValueError):
    """A requested tag is not in the matrix."""


def valid_tags(matrix: Matrix) -> list[str]:
    return [tag for image in matrix.images for tag in moving_tags(image)]


def select(matrix: Matrix, requested: Sequence[str]) -> list[Image]:
    """The images named by `requested` in matrix order; every image when nothing is named."""
    if not requested:
        return list(matrix.images)
    by_tag = {tag: image for image in matrix.images for tag in moving_tags(image)}
    unknown = [tag for tag in requested if tag not in by_tag]
    if unknown:
        raise SelectionError(
            f"unknown tag {', '.join(repr(tag) for tag in unknown)}; valid tags: {', '.join(valid_tags(matrix))}"
        )
    chosen = {by_tag[tag] for tag in requested}
    return [image for image in matrix.images if image in chosen]
