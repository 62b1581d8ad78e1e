"""A flavor is published only together with the base it was built on: its base tag goes out
in the same run, to the same family, and on every platform the flavor's layers start with
exactly that base's layers. Publishing from here and merging the runners' staged images
both check it, each reading layers where its images are."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Protocol, TypeVar

from bake.core.matrix import Image
from bake.errors import BakeError


class FlavorBaseError(BakeError):
    """A flavor would be published without its base, or on another base than the tested one."""


class Placed(Protocol):
    @property
    def image(self) -> Image: ...

    @property
    def family(self) -> str: ...


PlacedImage = TypeVar("PlacedImage", bound=Placed)
# An image's layer ids (bottom first) by platform.
PlatformLayers = Mapping[str, Sequence[str]]


def check_flavor_bases(
    placed: Sequence[PlacedImage],
    read_layers: Callable[[PlacedImage], PlatformLayers],
    describe: Callable[[PlacedImage], str],
) -> None:
    bases = {(item.image.name, item.family): item for item in placed if item.image.flavor is None}
    for flavor in placed:
        if flavor.image.flavor is None:
            continue
        base = bases.get((flavor.image.base_image.name, flavor.family))
        if base is None:
            raise FlavorBaseError(
                f"{flavor.image.name} is published only with its base {flavor.image.base_image.name}; name both"
            )
        below, above = read_layers(base), read_layers(flavor)
        for platform in sorted(set(below) | set(above)):
            base_layers = list(below.get(platform, []))
            if not base_layers or list(above.get(platform, []))[: len(base_layers)] != base_layers:
                raise FlavorBaseError(
                    f"{describe(flavor)} ({platform}) was not built on {describe(base)} as tested; rebuild both"
                )
