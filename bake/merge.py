"""The native-runner pattern's last step: single-platform images, each built on its own
runner and pushed by digest, merged into one multi-platform index under every tag."""

from __future__ import annotations

from collections.abc import Sequence

from python_on_whales import docker

from bake.matrix import Image
from bake.publish import PublishError, check_in_registry
from bake.tags import image_references


def merge(image: Image, repository: str, build_date: str, sources: Sequence[str]) -> str:
    """Creates the index for `image` from `sources` (repository@sha256:...); returns its digest."""
    not_by_digest = [source for source in sources if "@sha256:" not in source]
    if not_by_digest:
        raise PublishError(f"merge takes images by digest, not {', '.join(not_by_digest)}")
    targets = image_references(image, repository, build_date)
    # One tag per call: with several tags buildx pushes the index to each in parallel,
    # and a registry may reject the second push while the first still copies manifests.
    first, *others = targets
    docker.buildx.imagetools.create(sources=list(sources), tags=[first])
    digest = check_in_registry(first, image.platforms, "merged")
    for other in others:
        docker.buildx.imagetools.create(sources=[f"{repository}@{digest}"], tags=[other])
        check_in_registry(other, image.platforms, "merged", expected_digest=digest)
    return digest
