"""Image references: every `repository:tag` and `repository@digest` the build system writes
is composed here, and nowhere else (a unit test scans the sources for hand-made ones)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from bake.tags import dated_tags, moving_tags

if TYPE_CHECKING:  # bake.matrix composes the official bases' references here
    from bake.matrix import Image


@dataclass(frozen=True)
class ImageReference:
    """`repository[:tag][@digest]`; the repository carries any registry and namespace. The
    platform is not part of the name: it says which platform of an index is meant."""

    repository: str
    tag: str | None = None
    digest: str | None = None
    platform: str | None = None

    def __str__(self) -> str:
        tag = f":{self.tag}" if self.tag else ""
        digest = f"@{self.digest}" if self.digest else ""
        return f"{self.repository}{tag}{digest}"

    def with_tag(self, tag: str) -> ImageReference:
        return replace(self, tag=tag, digest=None)

    def at(self, digest: str) -> ImageReference:
        """The same repository, pinned to `digest` (the tag left out)."""
        return replace(self, tag=None, digest=digest)

    def in_registry(self, registry: str) -> ImageReference:
        """The same name under another registry host, e.g. a local one: `localhost:5000/...`."""
        return replace(self, repository=f"{registry}/{self.repository}")

    def with_serial(self, serial: int) -> ImageReference:
        """The `serial`-th date tag of one day: `python3.11-slim-2026-11-24.2`; the first has none."""
        if self.tag is None:
            raise ValueError(f"{self} has no tag to number")
        return self if serial == 1 else self.with_tag(f"{self.tag}.{serial}")


def parse_reference(text: str) -> ImageReference:
    """`repository[:tag][@digest]` read back; a registry port is not mistaken for a tag."""
    name, _, digest = text.partition("@")
    slash = name.rfind("/")
    colon = name.rfind(":")
    repository, tag = (name[:colon], name[colon + 1 :]) if colon > slash else (name, None)
    return ImageReference(repository, tag, digest or None)


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
