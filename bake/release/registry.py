"""Pushes of a local image under a registry name, and the reads publishing needs beyond an
index's digest and platforms (which bake.core.registry_reader gives): each platform's layers,
the platform images of a local multi-platform image."""

from __future__ import annotations

import json
import subprocess
import tarfile
from dataclasses import dataclass

from python_on_whales import docker
from python_on_whales.utils import run

from bake.core.reference import ImageReference
from bake.core.registry_reader import find_digest, index_of, read_document, read_index
from bake.errors import BakeError

# Either spelling of a name: the typed one, or one read from a file or a command line.
Reference = ImageReference | str


def registry_digest(reference: Reference) -> str | None:
    """The index digest the registry holds under `reference`; None when there is no such tag."""
    return find_digest(reference)


def platform_manifests(reference: Reference) -> dict[str, str]:
    return dict(read_index(reference).platforms)


def registry_digest_and_platforms(reference: Reference) -> tuple[str, set[str]]:
    index = read_index(reference)
    return index.digest, index.platform_set


@dataclass(frozen=True)
class Layer:
    digest: str
    compressed: int


def platform_layers(index: ImageReference) -> dict[str, list[Layer]]:
    """Each platform's layers, in order, of a multi-platform index in the registry."""
    return {
        platform: [Layer(layer["digest"], layer["size"]) for layer in read_document(index.at(digest))["layers"]]
        for platform, digest in platform_manifests(index).items()
    }


def local_platform_images(source: str) -> dict[str, str]:
    """{platform: image manifest digest} of a multi-platform image in the local (containerd)
    store, read from its index in the archive `docker save` streams (the manifests a push sends
    as they are); the rest of the archive is not read."""
    image_id = docker.image.inspect(source).id
    index_blob = f"blobs/sha256/{image_id.removeprefix('sha256:')}"
    with subprocess.Popen([*docker.client_config.docker_cmd, "save", source], stdout=subprocess.PIPE) as saving:
        assert saving.stdout is not None
        try:
            with tarfile.open(fileobj=saving.stdout, mode="r|") as archive:
                for member in archive:
                    extracted = archive.extractfile(member) if member.name == index_blob else None
                    if extracted is not None:
                        return dict(index_of({**json.loads(extracted.read()), "digest": image_id}).platforms)
        finally:
            saving.kill()
    raise BakeError(f"{source}: docker save wrote no index {image_id}")


def copy_index(source: ImageReference, target: ImageReference) -> None:
    """Writes the tag `target` for the index `source` (repository@digest) in the registry, as it is.
    One tag per call: with several, buildx pushes the index to each in parallel, and a registry
    may reject the second push while the first still copies manifests."""
    run([*docker.client_config.docker_cmd, "buildx", "imagetools", "create", "--tag", str(target), str(source)])


def push_as(source: Reference, target: Reference) -> None:
    """Pushes the local `source` under the registry name `target`; the name is gone again afterwards."""
    docker.image.tag(str(source), str(target))
    try:
        docker.image.push(str(target), quiet=True)
    finally:
        docker.image.remove(str(target))
