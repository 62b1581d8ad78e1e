"""The date tag of a release: written once, never moved.

A date tag names one index for good. A second release of the same image on the same UTC
day either finds its own index already there (a retried run: the tag is kept as it is)
or takes the next free serial: `python3.11-slim-2026-11-24`, then `...-2026-11-24.2`,
`.3`, and so on. A published date tag never points at other content.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from bake.core.matrix import Image
from bake.core.reference import ImageReference
from bake.core.tags import dated_tags
from bake.errors import BakeError
from bake.progress import say

# Far more releases of one image in one day than any schedule makes; past it, something loops.
MAX_SERIAL = 99

# Reads the index digest a registry holds under a reference; None when the tag does not exist.
DigestReader = Callable[[ImageReference], "str | None"]


class DateTagError(BakeError):
    """No date tag is left for a release on that day."""


@dataclass(frozen=True)
class DateTag:
    reference: ImageReference
    already_there: bool  # the registry holds this very index under the tag: nothing to push


def date_tag_candidates(image: Image, repository: str, build_date: str) -> Iterator[ImageReference]:
    """The date tags a release of `image` on `build_date` may take, in order of preference."""
    (first,) = dated_tags(image, build_date)
    for serial in range(1, MAX_SERIAL + 1):
        yield ImageReference(repository, first).with_serial(serial)


def choose_date_tag(image: Image, repository: str, build_date: str, digest: str, read: DigestReader) -> DateTag:
    """The first candidate that is free or already holds `digest`; one line says which and why."""
    for reference in date_tag_candidates(image, repository, build_date):
        present = read(reference)
        if present is None:
            say(f"date tag {reference}: new")
            return DateTag(reference, already_there=False)
        if present == digest:
            say(f"date tag {reference}: already holds {digest}; kept")
            return DateTag(reference, already_there=True)
        say(f"date tag {reference}: holds another index ({present}); it never moves")
    raise DateTagError(f"{image.tag}: every date tag of {build_date} up to .{MAX_SERIAL} is taken in {repository}")
