"""Publishing pushes exactly the tested multi-platform index, with every tag and attestations."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import requests
from python_on_whales import docker

from bake.bases import base_of
from bake.local_registry import local_registry
from bake.matrix import Image, utc_today
from bake.merge import merge_all, plan_merge
from bake.publish import (
    PublishError,
    plan_publication,
    platform_layers,
    platform_manifests,
    publish,
    push_as,
    read_manifest,
    registry_digest,
    registry_digest_and_platforms,
    stage,
)
from tests.image.conftest import ImageUnderTest, rebuild

TODAY = utc_today().isoformat()


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with local_registry(tmp_path_factory.mktemp("registry")) as address:
        yield address


def _source_name(image: ImageUnderTest) -> str:
    return image.reference.rsplit(":", 1)[0]


def test_publish_pushes_the_tested_index_under_every_tag(image: ImageUnderTest, registry: str) -> None:
    target = f"{registry}/uvicorn-gunicorn"
    publish([plan_publication(image.spec, _source_name(image), target, TODAY)], dry_run=False)
    for reference in (f"{target}:{image.spec.tag}-{TODAY}", f"{target}:{image.spec.tag}"):
        digest, platforms = registry_digest_and_platforms(reference)
        assert digest == image.image_id, "the pushed index is the tested one"
        assert platforms >= set(image.spec.platforms)
    manifest = docker.buildx.imagetools.inspect(f"{target}:{image.spec.tag}")
    attestations = [
        entry for entry in manifest.manifests or [] if entry.platform is not None and entry.platform.os == "unknown"
    ]
    assert len(attestations) == len(platforms), "one provenance attestation per platform"


def test_dry_run_pushes_nothing(image: ImageUnderTest, registry: str, capsys: pytest.CaptureFixture[str]) -> None:
    target = f"{registry}/dry-run"
    publish([plan_publication(image.spec, _source_name(image), target, TODAY)], dry_run=True)
    assert f"would push {image.reference} ({image.image_id}) as {target}:{image.spec.tag}-{TODAY}, " in (
        capsys.readouterr().out
    )
    catalog = requests.get(f"http://{registry}/v2/_catalog", timeout=10).json()
    assert "dry-run" not in catalog["repositories"]


def test_incomplete_platform_set_is_refused(image: ImageUnderTest, registry: str, tmp_path: Path) -> None:
    """An image of one platform, published as the matrix's tag (every platform), is refused."""
    (tmp_path / "Dockerfile").write_text(f"FROM {image.reference}\n")
    one_platform = f"uvicorn-gunicorn-test/incomplete:{image.spec.tag}"
    docker.buildx.build(tmp_path, platforms=[image.spec.platforms[0]], tags=[one_platform], load=True, progress=False)
    try:
        incomplete = image.in_matrix
        publication = plan_publication(incomplete, "uvicorn-gunicorn-test/incomplete", f"{registry}/incomplete", TODAY)
        with pytest.raises(PublishError, match="refusing to publish"):
            publish([publication], dry_run=False)
    finally:
        docker.image.remove(one_platform, force=True)
    catalog = requests.get(f"http://{registry}/v2/_catalog", timeout=10).json()
    assert "incomplete" not in catalog["repositories"]


def _single_platform(image: Image, platform: str) -> Image:
    return replace(image, platforms=(platform,))


def test_runners_stage_by_digest_and_merge_writes_every_tag(
    image: ImageUnderTest, registry: str, tmp_path: Path
) -> None:
    """The native-runner pattern: each platform built, tested and staged on its own runner
    (here: single-platform images of the tested one), then merged under every tag."""
    (tmp_path / "Dockerfile").write_text(f"FROM {image.reference}\n")
    staged: list[str] = []
    for platform in image.spec.platforms:
        local = f"uvicorn-gunicorn-test/runner-{platform.replace('/', '-')}"
        docker.buildx.build(
            tmp_path, platforms=[platform], tags=[f"{local}:{image.spec.tag}"], load=True, progress=False
        )
        try:
            publication = plan_publication(_single_platform(image.spec, platform), local, f"{registry}/staging", TODAY)
            staged.append(stage([publication])[image.spec.tag])
        finally:
            docker.image.remove(f"{local}:{image.spec.tag}", force=True)
        assert registry_digest_and_platforms(staged[-1])[1] == {platform}
    merged = merge_all([plan_merge(image.spec, f"{registry}/merged", staged)], TODAY)[image.spec.tag]
    for reference in (f"{registry}/merged:{image.spec.tag}", f"{registry}/merged:{image.spec.tag}-{TODAY}"):
        assert registry_digest_and_platforms(reference) == (merged, set(image.spec.platforms))
    with pytest.raises(PublishError, match="by digest"):
        plan_merge(image.spec, f"{registry}/merged", [f"{registry}/staging:{image.spec.tag}-linux-amd64"])
    with pytest.raises(PublishError, match="not exactly"):  # one platform short of the matrix's tag
        plan_merge(image.in_matrix, f"{registry}/incomplete-merge", staged[:1])
    catalog = requests.get(f"http://{registry}/v2/_catalog", timeout=10).json()
    assert "incomplete-merge" not in catalog["repositories"]


def test_a_date_tag_never_moves(image: ImageUnderTest, registry: str, tmp_path: Path, platform: str) -> None:
    """A second release the same day with other content takes the next serial date tag; the
    moving tag follows it; a retried release of the same index keeps its date tag."""
    spec = _single_platform(image.spec, platform)
    repository = f"{registry}/same-day-{platform.replace('/', '-')}"
    date_tag = f"{repository}:{spec.tag}-{TODAY}"
    published = {}
    for release in ("first", "second"):
        (tmp_path / "Dockerfile").write_text(f"FROM {image.reference}\nLABEL release={release}\n")
        local = f"uvicorn-gunicorn-test/{release}"
        docker.buildx.build(tmp_path, platforms=[platform], tags=[f"{local}:{spec.tag}"], load=True, progress=False)
        try:
            publication = plan_publication(spec, local, repository, TODAY)
            publish([publication], dry_run=False)
            publish([publication], dry_run=False)  # retried: nothing moves, no serial is used up
        finally:
            docker.image.remove(f"{local}:{spec.tag}", force=True)
        published[release] = publication.digest
    assert published["first"] != published["second"]
    assert registry_digest(date_tag) == published["first"]
    assert registry_digest(f"{date_tag}.2") == published["second"]
    assert registry_digest(f"{date_tag}.3") is None
    assert registry_digest(f"{repository}:{spec.tag}") == published["second"]


def test_a_date_only_change_rebuilds_no_layer(image: ImageUnderTest, registry: str) -> None:
    """Built again with another date, every platform's image is byte for byte the tested one."""
    tested = f"{registry}/dates:tested"
    docker.image.tag(image.reference, tested)
    docker.image.push(tested, quiet=True)
    other_day = f"{registry}/dates:other-day"
    rebuild(image, other_day, variables={"DATE": "1999-12-31"})
    try:
        docker.image.push(other_day, quiet=True)
    finally:
        docker.image.remove([tested, other_day], force=True)
    under_test = {
        platform: digest for platform, digest in platform_manifests(tested).items() if platform in image.spec.platforms
    }
    assert platform_manifests(other_day) == under_test


def test_registry_build_cache_holds_every_layer_the_image_adds(image: ImageUnderTest, registry: str) -> None:
    """CACHE_REF with CACHE_EXPORT writes the build cache to a registry (mode=max), so a runner
    starting with an empty engine can take every layer of the image from it."""
    local = f"uvicorn-gunicorn-test/cached:{image.spec.tag}"
    rebuild(image, local, variables={"CACHE_REF": f"{registry}/build-cache", "CACHE_EXPORT": "true"})
    try:
        push_as(local, f"{registry}/cached:{image.spec.tag}")
        push_as(base_of(image.reference), f"{registry}/cached-base:{image.spec.tag}")
    finally:
        docker.image.remove(local, force=True)
    cache = read_manifest(f"{registry}/build-cache:{image.spec.tag}")
    cached_blobs = {entry["digest"] for entry in cache["manifests"]}
    base_layers = platform_layers(registry, "cached-base", image.spec.tag)
    for platform, layers in platform_layers(registry, "cached", image.spec.tag).items():
        added = {layer.digest for layer in layers[len(base_layers[platform]) :]}
        assert added, f"no layers over the base for {platform}"
        assert added <= cached_blobs, f"{platform}: {len(added - cached_blobs)} layers missing from the cache"
