"""The bytes each tag adds on top of its base, per platform, compressed (as pushed to a
registry) and uncompressed (as unpacked on a host), read back from a local registry."""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import requests
from python_on_whales import docker

from bake.bases import BASE_LABEL

MANIFEST_TYPES = ", ".join(
    (
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    )
)
CHUNK = 1 << 20


@dataclass(frozen=True)
class Layer:
    digest: str
    compressed: int


@dataclass(frozen=True)
class AddedSize:
    tag: str
    base: str
    platform: str
    layers: int
    compressed: int
    uncompressed: int
    base_compressed: int


def _get(url: str) -> requests.Response:
    response = requests.get(url, headers={"Accept": MANIFEST_TYPES}, timeout=60, stream=True)
    response.raise_for_status()
    return response


def platform_layers(registry: str, repository: str, tag: str) -> dict[str, list[Layer]]:
    """Each platform's layers, in order, of a multi-platform index in the registry."""
    index = _get(f"http://{registry}/v2/{repository}/manifests/{tag}").json()
    layers = {}
    for entry in index["manifests"]:
        platform = entry.get("platform", {})
        if platform.get("os") in (None, "unknown"):
            continue  # attestations
        manifest = _get(f"http://{registry}/v2/{repository}/manifests/{entry['digest']}").json()
        name = f"{platform['os']}/{platform['architecture']}"
        layers[name] = [Layer(layer["digest"], layer["size"]) for layer in manifest["layers"]]
    return layers


def uncompressed_size(registry: str, repository: str, digest: str) -> int:
    """Streams a gzip layer blob through a decompressor and counts the bytes."""
    decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
    total = 0
    with _get(f"http://{registry}/v2/{repository}/blobs/{digest}") as response:
        for chunk in response.iter_content(CHUNK):
            total += len(decompressor.decompress(chunk))
    return total + len(decompressor.flush())


def push_to(registry: str, source: str, repository: str, tag: str) -> None:
    target = f"{registry}/{repository}:{tag}"
    docker.image.tag(source, target)
    try:
        docker.image.push(target, quiet=True)
    finally:
        docker.image.remove(target)


def base_of(reference: str) -> str:
    labels = docker.image.inspect(reference).config.labels or {}
    return labels[BASE_LABEL]


def measure_added_size(registry: str, image_name: str, tag: str) -> list[AddedSize]:
    reference = f"{image_name}:{tag}"
    base = base_of(reference)
    push_to(registry, reference, "image", tag)
    push_to(registry, base, "base", tag)
    image_layers = platform_layers(registry, "image", tag)
    base_layers = platform_layers(registry, "base", tag)
    sizes = []
    for platform, layers in sorted(image_layers.items()):
        below = base_layers[platform]
        if [layer.digest for layer in layers[: len(below)]] != [layer.digest for layer in below]:
            raise RuntimeError(f"{reference} for {platform} does not start with the layers of {base}")
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
