"""Publishing pushes exactly the tested multi-platform index, with every tag and attestations."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from python_on_whales import docker

from bake.bases import base_of
from bake.local_registry import local_registry
from bake.matrix import utc_today
from bake.merge import merge
from bake.publish import (
    PublishError,
    plan_publication,
    platform_layers,
    platform_manifests,
    publish,
    push_as,
    read_manifest,
    registry_digest_and_platforms,
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
    publication = plan_publication(image.spec, _source_name(image), target, TODAY)
    publish(publication, image.spec.platforms, dry_run=False)
    assert f"{target}:{image.spec.tag}-{TODAY}" in publication.targets
    for reference in publication.targets:
        digest, platforms = registry_digest_and_platforms(reference)
        assert digest == image.image_id
        assert platforms == set(image.spec.platforms)
    manifest = docker.buildx.imagetools.inspect(f"{target}:{image.spec.tag}")
    attestations = [
        entry for entry in manifest.manifests or [] if entry.platform is not None and entry.platform.os == "unknown"
    ]
    assert len(attestations) == len(image.spec.platforms), "one provenance attestation per platform"


def test_dry_run_pushes_nothing(image: ImageUnderTest, registry: str, capsys: pytest.CaptureFixture[str]) -> None:
    target = f"{registry}/dry-run"
    publish(plan_publication(image.spec, _source_name(image), target, TODAY), image.spec.platforms, dry_run=True)
    assert f"would push {image.reference}" in capsys.readouterr().out
    catalog = requests.get(f"http://{registry}/v2/_catalog", timeout=10).json()
    assert "dry-run" not in catalog["repositories"]


def test_incomplete_platform_set_is_refused(image: ImageUnderTest, registry: str, tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text(f"FROM {image.reference}\n")
    one_platform = f"uvicorn-gunicorn-test/incomplete:{image.spec.tag}"
    docker.buildx.build(tmp_path, platforms=[image.spec.platforms[0]], tags=[one_platform], load=True, progress=False)
    try:
        publication = plan_publication(image.spec, "uvicorn-gunicorn-test/incomplete", f"{registry}/incomplete", TODAY)
        with pytest.raises(PublishError, match="refusing to publish"):
            publish(publication, image.spec.platforms, dry_run=False)
    finally:
        docker.image.remove(one_platform, force=True)
    catalog = requests.get(f"http://{registry}/v2/_catalog", timeout=10).json()
    assert "incomplete" not in catalog["repositories"]


def test_merge_of_single_platform_images_pushed_by_digest(image: ImageUnderTest, registry: str, tmp_path: Path) -> None:
    """The native-runner pattern: each platform pushed alone, then merged under every tag."""
    staging = f"{registry}/staging"
    sources = []
    (tmp_path / "Dockerfile").write_text(f"FROM {image.reference}\n")
    for platform in image.spec.platforms:
        single = f"{staging}:{platform.replace('/', '-')}"
        docker.buildx.build(tmp_path, platforms=[platform], tags=[single], load=True, progress=False)
        docker.image.push(single, quiet=True)
        docker.image.remove(single, force=True)
        digest, platforms = registry_digest_and_platforms(single)
        assert platforms == {platform}
        sources.append(f"{staging}@{digest}")
    merged = merge(image.spec, f"{registry}/merged", TODAY, sources)
    for reference in (f"{registry}/merged:{image.spec.tag}", f"{registry}/merged:{image.spec.tag}-{TODAY}"):
        digest, platforms = registry_digest_and_platforms(reference)
        assert (digest, platforms) == (merged, set(image.spec.platforms))
    with pytest.raises(PublishError, match="by digest"):
        merge(image.spec, f"{registry}/merged", TODAY, [f"{staging}:linux-amd64"])


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
    assert platform_manifests(other_day) == platform_manifests(tested)


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
