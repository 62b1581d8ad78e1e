"""The native-runner pattern's last step: single-platform images, each built and tested on
its own runner and pushed by digest, merged into one multi-platform index per image.

Every image's sources are checked, and its index computed, before any tag is written;
then every date tag is written, each index signed and its signature verified, and its
attestations checked to be the staged ones, still bound to every platform; then every
moving tag, so a failure part-way never leaves a moving tag on an index that has no date
tag, lacks a platform or is not verified. Each merged index carries the images' OCI labels as
its annotations. An image whose platform images every moving tag already holds is left alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from python_on_whales import docker
from python_on_whales.utils import run

from bake.core.matrix import Image
from bake.core.naming import moving_references, repository_of
from bake.core.reference import ImageReference, parse_reference
from bake.core.registry_reader import find_index, read_document, read_formatted
from bake.engine.image_metadata import METADATA_LABELS
from bake.progress import say
from bake.release.attestations import REQUIRED_DISTRIBUTIONS, attestation_manifests, read_sboms, sbom_packages
from bake.release.date_tag import choose_date_tag, unchanged_line
from bake.release.flavor_bases import FlavorBaseError, check_flavor_bases
from bake.release.publish import PublishError, check_in_registry, verify_release
from bake.release.registry import copy_index, platform_layers, platform_manifests, registry_digest_and_platforms
from bake.release.signing import signer_from_environment


@dataclass(frozen=True)
class Merge:
    image: Image
    family: str  # the repository of the base images; a flavor goes to FAMILY-FLAVOR
    sources: tuple[str, ...]  # repository@sha256:..., one per runner
    platform_images: dict[str, str]  # {platform: image manifest digest} of the sources
    attestations: dict[str, str]  # {platform: attestation manifest digest} of the sources
    expected: dict[str, dict[str, str]]  # {platform: {package: version}} their SBOMs list

    @property
    def repository(self) -> str:
        return repository_of(self.image, self.family)

    def pinned(self, digest: str) -> ImageReference:
        """The merged index by digest: `repository@sha256:...`."""
        return ImageReference(self.repository).at(digest)


def plan_merge(image: Image, repository: str, sources: Sequence[str]) -> Merge:
    """Checks that `sources` are pushed by digest and together hold exactly the image's platforms."""
    not_by_digest = [source for source in sources if "@sha256:" not in source]
    if not_by_digest:
        raise PublishError(f"merge takes images by digest, not {', '.join(not_by_digest)}")
    seen: list[str] = []
    platform_images: dict[str, str] = {}
    for source in sources:
        found = platform_manifests(source)
        seen += found or ["(none)"]
        platform_images |= found
    if sorted(seen) != sorted(image.platforms):
        raise PublishError(
            f"{image.name}: the sources hold {', '.join(sorted(seen))}, not exactly {', '.join(image.platforms)}"
        )
    attestations: dict[str, str] = {}
    expected: dict[str, dict[str, str]] = {}
    for source in sources:
        attestations |= attestation_manifests(read_document(source))
        for platform, document in read_sboms(source, list(platform_manifests(source))).items():
            expected[platform] = _staged_versions(source, platform, document)
    return Merge(image, repository, tuple(sources), platform_images, attestations, expected)


def _staged_versions(source: str, platform: str, document: dict[str, object] | None) -> dict[str, str]:
    """The server stack's versions in a staged image's SBOM (stage checked them against the image)."""
    listed = sbom_packages(document or {})
    versions = {name: sorted(listed.get(name, {""}))[0] for name in REQUIRED_DISTRIBUTIONS}
    missing = [name for name, version in versions.items() if not version]
    if missing:
        raise PublishError(f"{source} {platform}: its SBOM does not list {', '.join(missing)}")
    return versions


def check_attestations_kept(merge: Merge, digest: str) -> None:
    """The merged index binds each platform's image to the very attestation manifest staged with it."""
    merged = attestation_manifests(read_document(merge.pinned(digest)))
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


def index_annotations_of(source: str) -> list[str]:
    """The staged image's OCI metadata labels, as annotations of the index merged from it."""
    image = read_formatted(source, "Image")
    configs = [image] if "config" in image else [image[key] for key in sorted(image)]
    labels: dict[str, str] = (configs[0].get("config") or {}).get("Labels") or {}
    return [f"index:{name}={value}" for name, value in sorted(labels.items()) if name in METADATA_LABELS]


def _create_index(merge: Merge, target: ImageReference) -> None:
    annotations = [f"--annotation={annotation}" for annotation in index_annotations_of(merge.sources[0])]
    command = [*docker.client_config.docker_cmd, "buildx", "imagetools", "create", *annotations]
    run([*command, "--tag", str(target), *merge.sources])


def merge_all(merges: Sequence[Merge], build_date: str) -> dict[str, str]:
    """Writes every date tag (each index signed, its signature and attestations verified), then
    every moving tag; returns each image's index digest by its name (the published one, for an
    image every moving tag already holds)."""
    check_staged_flavor_bases(merges)
    signer = signer_from_environment()
    released: dict[str, str] = {}
    changed = []
    for merge in merges:
        moving = moving_references(merge.image, merge.family)
        line = unchanged_line(merge.image.name, moving, merge.platform_images, find_index)
        if line:
            say(line)
            released[merge.image.name] = registry_digest_and_platforms(moving[0])[0]
        else:
            changed.append(merge)
    for merge in changed:
        date_tag = choose_date_tag(merge.image, merge.repository, build_date, merge.platform_images, find_index)
        if not date_tag.already_there:
            _create_index(merge, date_tag.reference)
        digest = registry_digest_and_platforms(date_tag.reference)[0]
        check_in_registry(date_tag.reference, merge.image.platforms, "merged", digest)
        if not date_tag.already_there:
            check_attestations_kept(merge, digest)
        verify_release(signer, merge.repository, digest, merge.expected)
        released[merge.image.name] = digest
    for merge in changed:
        for target in moving_references(merge.image, merge.family):
            copy_index(merge.pinned(released[merge.image.name]), target)
            check_in_registry(target, merge.image.platforms, "merged", released[merge.image.name])
    return released


def sources_by_tag(digest_files: Sequence[Mapping[str, str]]) -> dict[str, list[str]]:
    """Each tag's sources from the runners' digest files ({name: repository@sha256:...} each)."""
    sources: dict[str, list[str]] = {}
    for digests in digest_files:
        for tag, reference in digests.items():
            sources.setdefault(tag, []).append(reference)
    return sources
