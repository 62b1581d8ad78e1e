"""The native-runner pattern's last step: single-platform images, each built and tested on
its own runner and pushed by digest, merged into one multi-platform index per image.

Every image's sources are checked, and its index computed, before any tag is written;
then every date tag is written, each index signed and its signature verified, and its
attestations checked to be the staged ones, still bound to every platform; then every
moving tag, so a failure part-way never leaves a moving tag on an index that has no date
tag, lacks a platform or is not verified.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from python_on_whales import docker
from python_on_whales.utils import run

from bake.core.matrix import Image
from bake.core.naming import moving_references, repository_of
from bake.core.reference import ImageReference, parse_reference
from bake.release.attestations import REQUIRED_DISTRIBUTIONS, attestation_manifests, read_sboms, sbom_packages
from bake.release.date_tag import choose_date_tag
from bake.release.flavor_bases import FlavorBaseError, check_flavor_bases
from bake.release.publish import PublishError, check_in_registry, verify_release
from bake.release.registry import (
    index_digest_and_platforms,
    platform_layers,
    platform_manifests,
    read_manifest,
    registry_digest,
)
from bake.release.signing import signer_from_environment


@dataclass(frozen=True)
class Merge:
    image: Image
    family: str  # the repository of the base images; a flavor goes to FAMILY-FLAVOR
    sources: tuple[str, ...]  # repository@sha256:..., one per runner
    digest: str  # of the index these sources make
    attestations: dict[str, str]  # {platform: attestation manifest digest} of the sources
    expected: dict[str, dict[str, str]]  # {platform: {package: version}} their SBOMs list

    @property
    def repository(self) -> str:
        return repository_of(self.image, self.family)

    @property
    def pinned(self) -> ImageReference:
        """The merged index by digest: `repository@sha256:...`."""
        return ImageReference(self.repository).at(self.digest)


def _index_of(sources: Sequence[str]) -> tuple[str, set[str]]:
    """The digest and platforms of the index `imagetools create` makes from `sources`, computed
    without pushing: its dry run prints exactly the bytes it would push."""
    raw = str(run([*docker.client_config.docker_cmd, "buildx", "imagetools", "create", "--dry-run", *sources]))
    digest, manifests = index_digest_and_platforms(raw)
    return digest, set(manifests)


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
            f"{image.name}: the sources hold {', '.join(sorted(seen))}, not exactly {', '.join(image.platforms)}"
        )
    digest, platforms = _index_of(sources)
    if platforms != set(image.platforms):
        raise PublishError(f"{image.name}: the merged index would hold {', '.join(sorted(platforms))}")
    attestations: dict[str, str] = {}
    expected: dict[str, dict[str, str]] = {}
    for source in sources:
        attestations |= attestation_manifests(read_manifest(source))
        for platform, document in read_sboms(source, list(platform_manifests(source))).items():
            expected[platform] = _staged_versions(source, platform, document)
    return Merge(image, repository, tuple(sources), digest, attestations, expected)


def _staged_versions(source: str, platform: str, document: dict[str, object] | None) -> dict[str, str]:
    """The server stack's versions in a staged image's SBOM (stage checked them against the image)."""
    listed = sbom_packages(document or {})
    versions = {name: sorted(listed.get(name, {""}))[0] for name in REQUIRED_DISTRIBUTIONS}
    missing = [name for name, version in versions.items() if not version]
    if missing:
        raise PublishError(f"{source} {platform}: its SBOM does not list {', '.join(missing)}")
    return versions


def check_attestations_kept(merge: Merge) -> None:
    """The merged index binds each platform's image to the very attestation manifest staged with it."""
    merged = attestation_manifests(read_manifest(merge.pinned))
    if merged != merge.attestations:
        raise PublishError(
            f"{merge.image.name}: the merged index's attestations {merged} are not the staged ones {merge.attestations}"
        )


def _staged_layers(merge: Merge) -> dict[str, list[str]]:
    """Each platform's layer digests, bottom first, in the registry."""
    layers: dict[str, list[str]] = {}
    for source in merge.sources:
        for platform, found in platform_layers(parse_reference(source)).items():
            layers[platform] = [layer.digest for layer in found]
    return layers


def check_staged_flavor_bases(merges: Sequence[Merge]) -> None:
    """Each flavor is merged with the base it was built on, on every platform (see flavor_bases)."""
    try:
        check_flavor_bases(merges, _staged_layers, lambda merge: merge.image.name)
    except FlavorBaseError as error:
        raise PublishError(str(error)) from None


def merge_all(merges: Sequence[Merge], build_date: str) -> dict[str, str]:
    """Writes every date tag (each index signed, its signature and attestations verified), then
    every moving tag; returns each image's index digest by its name."""
    check_staged_flavor_bases(merges)
    signer = signer_from_environment()
    for merge in merges:
        date_tag = choose_date_tag(merge.image, merge.repository, build_date, merge.digest, registry_digest)
        if not date_tag.already_there:
            docker.buildx.imagetools.create(sources=list(merge.sources), tags=[str(date_tag.reference)])
        check_in_registry(date_tag.reference, merge.image.platforms, "merged", merge.digest)
        check_attestations_kept(merge)
        verify_release(signer, merge.repository, merge.digest, merge.expected)
    # One tag per call: with several tags buildx pushes the index to each in parallel,
    # and a registry may reject the second push while the first still copies manifests.
    for merge in merges:
        for target in moving_references(merge.image, merge.family):
            docker.buildx.imagetools.create(sources=[str(merge.pinned)], tags=[str(target)])
            check_in_registry(target, merge.image.platforms, "merged", merge.digest)
    return {merge.image.name: merge.digest for merge in merges}


def sources_by_tag(digest_files: Sequence[Mapping[str, str]]) -> dict[str, list[str]]:
    """Each tag's sources from the runners' digest files ({name: repository@sha256:...} each)."""
    sources: dict[str, list[str]] = {}
    for digests in digest_files:
        for tag, reference in digests.items():
            sources.setdefault(tag, []).append(reference)
    return sources
