"""The names an image of the matrix gets: its repository in the family, the reference a build
loads and the tests run, and every tag a build and a release give it."""

from __future__ import annotations

from bake.core.matrix import Image
from bake.core.reference import ImageReference
from bake.core.tags import dated_tags, moving_tags


def repository_of(image: Image, image_name: str) -> str:
    """The repository of `image` in the family named `image_name`: the name itself for a base
    image, `IMAGE_NAME-FLAVOR` for a flavor (`uvicorn-gunicorn-fastapi`)."""
    return f"{image_name}-{image.flavor.name}" if image.flavor else image_name


def local_reference(image: Image, image_name: str) -> ImageReference:
    """The image as a build loads it and the tests run it: `IMAGE_NAME:python3.11-slim`,
    `IMAGE_NAME-fastapi:python3.11-slim`."""
    return ImageReference(repository_of(image, image_name), image.tag)


def moving_references(image: Image, image_name: str) -> list[ImageReference]:
    return [ImageReference(repository_of(image, image_name), tag) for tag in moving_tags(image)]


def image_references(image: Image, image_name: str, build_date: str | None) -> list[ImageReference]:
    """Every reference a build of `image` gets: its moving tags, then (with a build date) its date tags."""
    dated = dated_tags(image, build_date) if build_date else []
    repository = repository_of(image, image_name)
    return [*moving_references(image, image_name), *(ImageReference(repository, tag) for tag in dated)]


def reference_strings(references: list[ImageReference]) -> list[str]:
    return [str(reference) for reference in references]
