"""Tag names of an image (without a repository): the moving tags and the date tags fixed once
per run. bake/core/naming.py puts them together with a repository."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bake.core.matrix import Image


def moving_tags(image: Image) -> list[str]:
    """Tags that move to each new build: the image's own and, for the default full image, `latest`."""
    tags = [image.tag]
    if image.is_default and image.variant == "full":
        tags.append("latest")
    return tags


def dated_tags(image: Image, build_date: str) -> list[str]:
    """Tags pinned to one build date; `latest` never has one."""
    return [f"{image.tag}-{build_date}"]
