"""The date tag of a release: written once, never moved.

A date tag names one index for good. A second release of the same image on the same UTC
day either finds its own platform images already there (a retried run, or a rebuild that
came out identical: the tag is kept as it is) or takes the next free serial:
`python3.11-slim-2026-11-24`, then `...-2026-11-24.2`, `.3`, and so on. A published date tag
never points at other content.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

from bake.core.matrix import Image
from bake.core.reference import ImageReference
from bake.core.registry_reader import Index
from bake.core.tags import dated_tags
from bake.errors import BakeError
from bake.progress import say

# Far more releases of one image in one day than any schedule makes; past it, something loops.
MAX_SERIAL = 99

# Reads the index a registry holds under a reference; None when the tag does not exist.
IndexReader = Callable[[ImageReference], "Index | None"]


class DateTagError(BakeError):
    """No date tag is left for a release on that day."""


@dataclass(frozen=True)
class DateTag:
    reference: ImageReference
    already_there: bool  # the registry holds these very platform images under the tag: nothing to push


def date_tag_candidates(image: Image, repository: str, build_date: str) -> Iterator[ImageReference]:
    """The date tags a release of `image` on `build_date` may take, in order of preference."""
    (first,) = dated_tags(image, build_date)
    for serial in range(1, MAX_SERIAL + 1):
        yield ImageReference(repository, first).with_serial(serial)


def choose_date_tag(
    image: Image, repository: str, build_date: str, platforms: Mapping[str, str], read: IndexReader
) -> DateTag:
    """The first candidate that is free or already holds the platform images `platforms`
    ({platform: image manifest digest}); one line says which and why."""
    for reference in date_tag_candidates(image, repository, build_date):
        present = read(reference)
        if present is None:
            say(f"date tag {reference}: new")
            return DateTag(reference, already_there=False)
        if present.platforms == platforms:
            say(f"date tag {reference}: already holds these platform images ({present.digest}); kept")
            return DateTag(reference, already_there=True)
        say(f"date tag {reference}: holds another index ({present.digest}); it never moves")
    raise DateTagError(f"{image.tag}: every date tag of {build_date} up to .{MAX_SERIAL} is taken in {repository}")


def unchanged_line(
    name: str, moving: list[ImageReference], platforms: Mapping[str, str], read: IndexReader
) -> str | None:
    """One line saying why nothing is written, when every moving tag already holds exactly the
    platform images `platforms` (a rebuild that came out identical: only its attestations, such
    as the provenance's build times, differ); None when something is to be published."""
    held = [read(reference) for reference in moving]
    if not moving or any(index is None or index.platforms != platforms for index in held):
        return None
    digests = ", ".join(f"{platform} {digest}" for platform, digest in sorted(platforms.items()))
    holders = ", ".join(map(str, moving))
    return f"{name}: unchanged, nothing written: {holders} already hold these platform images ({digests})"
