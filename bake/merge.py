"""The native-runner pattern's last step: single-platform images, each built and tested on
its own runner and pushed by digest, merged into one multi-platform index per image.

Every image's sources are checked, and its index computed, before any tag is written;
then every date tag is written, then every moving tag, so a failure part-way never
leaves a moving tag on an index that has no date tag or lacks a platform.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from python_on_whales import docker
from python_on_whales.utils import run

from bake.date_tag import choose_date_tag
from bake.matrix import Image
from bake.publish import PublishError, check_in_registry, platform_manifests, registry_digest
from bake.tags import moving_tags


@dataclass(frozen=True)
class Merge:
    image: Image
    repository: str
    sources: tuple[str, ...]  # repository@sha256:..., one per runner
    digest: str  # of the index these sources make


def _index_of(sources: Sequence[str]) -> tuple[str, set[str]]:
    """The digest and platforms of the index `imagetools create` makes from `sources`, computed
    without pushing: its dry run prints exactly the bytes it would push."""
    raw = str(run([*docker.client_config.docker_cmd, "buildx", "imagetools", "create", "--dry-run", *sources]))
    platforms = {
        f"{entry['platform']['os']}/{entry['platform']['architecture']}"
        for entry in json.loads(raw).get("manifests", [])
        if entry.get("platform", {}).get("os", "unknown") != "unknown"
    }
    return "sha256:" + hashlib.sha256(raw.encode()).hexdigest(), platforms


def plan_merge(image: Image, repository: str, sources: Sequence[str]) -> Merge:
    """Checks that `sources` are pushed by digest and together hold exactly the image's platforms."""
    not_by_digest = [source for source in sources if "@sha256:" not in source]
    if not_by_digest:
        raise PublishError(f"merge takes images by digest, not {', '.join(not_by_digest)}")
    seen: list[str] = []
    for source in sources:
        seen += platform_manifests(source) or ["(none)"]
    if sorted(seen) != sorted(image.platforms):
        raise PublishError(
            f"{image.tag}: the sources hold {', '.join(sorted(seen))}, not exactly {', '.join(image.platforms)}"
        )
    digest, platforms = _index_of(sources)
    if platforms != set(image.platforms):
        raise PublishError(f"{image.tag}: the merged index would hold {', '.join(sorted(platforms))}")
    return Merge(image, repository, tuple(sources), digest)


def merge_all(merges: Sequence[Merge], build_date: str) -> dict[str, str]:
    """Writes every date tag, then every moving tag; returns each image's index digest by tag."""
    for merge in merges:
        date_tag = choose_date_tag(merge.image, merge.repository, build_date, merge.digest, registry_digest)
        if not date_tag.already_there:
            docker.buildx.imagetools.create(sources=list(merge.sources), tags=[date_tag.reference])
        check_in_registry(date_tag.reference, merge.image.platforms, "merged", merge.digest)
    # One tag per call: with several tags buildx pushes the index to each in parallel,
    # and a registry may reject the second push while the first still copies manifests.
    for merge in merges:
        for tag in moving_tags(merge.image):
            target = f"{merge.repository}:{tag}"
            docker.buildx.imagetools.create(sources=[f"{merge.repository}@{merge.digest}"], tags=[target])
            check_in_registry(target, merge.image.platforms, "merged", merge.digest)
    return {merge.image.tag: merge.digest for merge in merges}


def sources_by_tag(digest_files: Sequence[Mapping[str, str]]) -> dict[str, list[str]]:
    """Each tag's sources from the runners' digest files ({tag: repository@sha256:...} each)."""
    sources: dict[str, list[str]] = {}
    for digests in digest_files:
        for tag, reference in digests.items():
            sources.setdefault(tag, []).append(reference)
    return sources
