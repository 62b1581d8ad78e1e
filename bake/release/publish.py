"""Publishes the images that were built and tested here, as they are: never a rebuild.

Each local tag is a multi-platform index in the engine's containerd store. Publishing
checks that every platform of the tag is there and runs, tags the index with the
registry's names (moving and date tags), pushes it, and reads each pushed tag back from
the registry: it must be the same index digest, with every platform. Once the date tag is
pushed, the index is signed and its signature, SBOMs and provenance are verified from the
registry; only then do the moving tags follow, copied in the registry from the date tag's index.

A release whose platform images every moving tag already holds (a rebuild of an unchanged
commit on an unchanged base: only its provenance differs) writes nothing, and says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from python_on_whales import DockerException, docker

from bake.core.matrix import Image
from bake.core.naming import local_reference, moving_references, repository_of
from bake.core.reference import ImageReference
from bake.core.registry_reader import find_index
from bake.engine.platforms import UNAME_MACHINE, engine_platform
from bake.errors import BakeError
from bake.progress import emit, say
from bake.release.attestations import verify_attestations
from bake.release.date_tag import DateTag, choose_date_tag, unchanged_line
from bake.release.flavor_bases import FlavorBaseError, check_flavor_bases
from bake.release.image_facts import expected_packages
from bake.release.registry import (
    Reference,
    copy_index,
    local_platform_images,
    push_as,
    registry_digest_and_platforms,
)
from bake.release.signing import Signer, ensure_signed, signer_from_environment


class PublishError(BakeError):
    """A tag cannot be published, or the registry does not hold what was pushed."""


@dataclass(frozen=True)
class Publication:
    image: Image
    source: str  # the tested local reference
    digest: str  # its index digest
    platform_images: dict[str, str]  # {platform: image manifest digest} of its index
    family: str  # the repository of the base images; a flavor goes to FAMILY-FLAVOR
    build_date: str

    @property
    def repository(self) -> str:
        """Where it is published."""
        return repository_of(self.image, self.family)

    @property
    def moving_targets(self) -> list[ImageReference]:
        return moving_references(self.image, self.family)

    @property
    def pinned(self) -> ImageReference:
        """The published index by digest: `repository@sha256:...`."""
        return ImageReference(self.repository).at(self.digest)


def plan_publication(image: Image, source_name: str, repository: str, build_date: str) -> Publication:
    source = str(local_reference(image, source_name))
    if not docker.image.exists(source):
        raise PublishError(f"{source} is not in the local image store; build and test it first")
    return Publication(
        image, source, docker.image.inspect(source).id, local_platform_images(source), repository, build_date
    )


def _local_layers(publication: Publication) -> dict[str, list[str]]:
    """The layer ids (diff ids) of the local image, bottom first, on the engine's own platform."""
    return {engine_platform(): list(docker.image.inspect(publication.source).root_fs.layers or [])}


def _check_flavor_bases(publications: Sequence[Publication]) -> None:
    try:
        check_flavor_bases(publications, _local_layers, lambda publication: publication.source)
    except FlavorBaseError as error:
        raise PublishError(str(error)) from None


def check_platforms(source: str, platforms: Sequence[str]) -> None:
    """Every platform of the tag is present locally and runs: an incomplete index is refused."""
    for platform in platforms:
        try:
            machine = docker.run(source, ["uname", "-m"], platform=platform, pull="never", remove=True)
        except DockerException:
            raise PublishError(f"{source} has no runnable {platform} image; refusing to publish it") from None
        if str(machine).strip() != UNAME_MACHINE[platform]:
            raise PublishError(f"{source} for {platform} runs as {str(machine).strip()}; refusing to publish it")


def check_in_registry(
    target: Reference, platforms: Sequence[str], action: str, expected_digest: str | None = None
) -> str:
    """The digest of the index under `target`, once the registry shows every platform in it
    (and shows `expected_digest`, when given); logs one line saying what was `action`."""
    digest, present = registry_digest_and_platforms(target)
    if expected_digest is not None and digest != expected_digest:
        raise PublishError(f"{target} is {digest} in the registry, not the {action} index {expected_digest}")
    missing = sorted(set(platforms) - present)
    if missing:
        raise PublishError(f"{target} lacks {', '.join(missing)} in the registry")
    say(f"{action} {target}: {digest}, {', '.join(sorted(present))}")
    return digest


def expected_contents(publication: Publication) -> dict[str, dict[str, str]]:
    """{platform: {package: version}} an SBOM of the tested image must list, asked of the image."""
    return {platform: expected_packages(publication.source, platform) for platform in publication.image.platforms}


def verify_release(signer: Signer, repository: str, digest: str, expected: dict[str, dict[str, str]]) -> None:
    """Signs the pushed index, then checks from the registry its signature and, for every
    platform, its SBOM and provenance."""
    ensure_signed(signer, repository, digest)
    verify_attestations(repository, digest, expected)


def _publish_date_tag(
    publication: Publication, date_tag: DateTag, signer: Signer, contents: dict[str, dict[str, str]]
) -> str:
    """Pushes the date tag unless it already holds these platform images; signs and verifies the
    index it holds; returns that index's digest."""
    if date_tag.already_there:
        digest = registry_digest_and_platforms(date_tag.reference)[0]
    else:
        push_as(publication.source, date_tag.reference)
        digest = publication.digest
    check_in_registry(date_tag.reference, publication.image.platforms, "pushed", digest)
    verify_release(signer, publication.repository, digest, contents)
    return digest


def publish(publications: Sequence[Publication], dry_run: bool) -> None:
    """Checks every platform of every image, then pushes all date tags (each index signed and
    its signature and attestations verified), then all moving tags: no tag moves before every
    image is known complete, and a moving tag never points at an index that has no date tag
    or is not verified. An image every moving tag already holds is left alone."""
    _check_flavor_bases(publications)
    for publication in publications:
        check_platforms(publication.source, publication.image.platforms)
    signer = None if dry_run else signer_from_environment()
    changed = []
    for publication in publications:
        line = unchanged_line(
            publication.image.name, publication.moving_targets, publication.platform_images, find_index
        )
        if line:
            say(line)
        else:
            changed.append(publication)
    date_tags = [choose_date_tag(p.image, p.repository, p.build_date, p.platform_images, find_index) for p in changed]
    if dry_run:
        for publication, date_tag in zip(changed, date_tags, strict=True):
            targets = [date_tag.reference, *publication.moving_targets]
            emit(f"would push {publication.source} ({publication.digest}) as {', '.join(map(str, targets))}")
        return
    assert signer is not None
    released = [
        _publish_date_tag(publication, date_tag, signer, expected_contents(publication))
        for publication, date_tag in zip(changed, date_tags, strict=True)
    ]
    for publication, digest in zip(changed, released, strict=True):
        pinned = ImageReference(publication.repository).at(digest)
        for target in publication.moving_targets:
            copy_index(pinned, target)
            check_in_registry(target, publication.image.platforms, "pushed", digest)


def stage(publications: Sequence[Publication]) -> dict[str, str]:
    """The native-runner pattern's first step: each runner pushes the single-platform images it
    built and tested to a staging repository, checks their SBOM and provenance there, and hands
    their digests to the merge; no public tag is written. Returns {name: repository@sha256:...}
    by the image's name (`python3.11-slim`, `fastapi:python3.11-slim`)."""
    _check_flavor_bases(publications)
    for publication in publications:
        check_platforms(publication.source, publication.image.platforms)
    staged: dict[str, str] = {}
    for publication in publications:
        slug = "-".join(platform.replace("/", "-") for platform in publication.image.platforms)
        target = ImageReference(publication.repository, f"{publication.image.tag}-{slug}")
        push_as(publication.source, target)
        check_in_registry(target, publication.image.platforms, "staged", publication.digest)
        verify_attestations(publication.repository, publication.digest, expected_contents(publication))
        staged[publication.image.name] = str(publication.pinned)
    return staged
