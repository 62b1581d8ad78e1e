"""The bytes each tag adds on top of its base, per platform, compressed (as pushed to a
registry) and uncompressed (as unpacked on a host), read back from a local registry."""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import requests

from bake.core.reference import ImageReference
from bake.engine.bases import base_of
from bake.errors import BakeError
from bake.release.registry import platform_layers, push_as

CHUNK = 1 << 20


@dataclass(frozen=True)
class AddedSize:
    tag: str
    base: str
    platform: str
    layers: int
    compressed: int
    uncompressed: int
    base_compressed: int


def uncompressed_size(registry: str, repository: str, digest: str) -> int:
    """Streams a gzip layer blob through a decompressor and counts the bytes."""
    decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
    total = 0
    url = f"http://{registry}/v2/{repository}/blobs/{digest}"
    with requests.get(url, timeout=60, stream=True) as response:
        response.raise_for_status()
        for chunk in response.iter_content(CHUNK):
            total += len(decompressor.decompress(chunk))
    return total + len(decompressor.flush())


def measure_added_size(registry: str, image_name: str, tag: str) -> list[AddedSize]:
    reference = ImageReference(image_name, tag)
    base = base_of(str(reference))
    pushed_image, pushed_base = (ImageReference(name, tag).in_registry(registry) for name in ("image", "base"))
    push_as(reference, pushed_image)
    push_as(base, pushed_base)
    image_layers = platform_layers(pushed_image)
    base_layers = platform_layers(pushed_base)
    sizes = []
    for platform, layers in sorted(image_layers.items()):
        below = base_layers[platform]
        if [layer.digest for layer in layers[: len(below)]] != [layer.digest for layer in below]:
            raise BakeError(f"{reference} for {platform} does not start with the layers of {base}")
        added = layers[len(below) :]
        sizes.append(
            AddedSize(
                tag=tag,
                base=base,
                platform=platform,
                layers=len(added),
                compressed=sum(layer.compressed for layer in added),
                uncompressed=sum(uncompressed_size(registry, "image", layer.digest) for layer in added),
                base_compressed=sum(layer.compressed for layer in below),
            )
        )
    return sizes
