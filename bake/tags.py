"""Tag names of an image: the moving tags and the date tags fixed once per run."""

from __future__ import annotations

import re
from datetime import date

from bake.matrix import Image

DATE_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class TagError(ValueError):
    """A tag setting is malformed."""


def moving_tags(image: Image) -> list[str]:
    """Tags that move to each new build: the image's own and, for the default full image, `latest`."""
    tags = [image.tag]
    if image.is_default and image.variant == "full":
        tags.append("latest")
    return tags


def dated_tags(image: Image, build_date: str) -> list[str]:
    """Tags pinned to one build date; `latest` never has one."""
    return [f"{image.tag}-{build_date}"]


def validate_date(value: str, setting: str = "DATE") -> str:
    """`value` if it is a date YYYY-MM-DD; `setting` is what the user gave it as, for the message."""
    if not DATE_PATTERN.match(value):
        raise TagError(f"{setting}={value!r} is not a date of the form YYYY-MM-DD")
    try:
        date.fromisoformat(value)
    except ValueError:
        raise TagError(f"{setting}={value!r} is not a calendar date") from None
    return value


def image_references(image: Image, image_name: str, build_date: str | None) -> list[str]:
    """Every reference a build of `image` gets, e.g. `uvicorn-gunicorn:python3.11-slim`."""
    names = moving_tags(image) + (dated_tags(image, build_date) if build_date else [])
    return [f"{image_name}:{name}" for name in names]
