"""Publishing pushes exactly the tested multi-platform index, with every tag, signed, with an
SBOM and a provenance attestation for every platform; each is checked from the registry, and
publishing fails when any of them is missing or altered."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
import requests
from python_on_whales import docker

from bake.core.base_digest import BASE_DIGEST_LABEL, check_base, current_digest, published_labels
from bake.core.ca_bundle import find_ca_bundle
from bake.core.matrix import Image
from bake.core.naming import image_references, local_reference, reference_strings
from bake.core.reference import ImageReference, parse_reference
from bake.core.registry_reader import digest_of_bytes, read_document
from bake.core.settings import settings_from_environment
from bake.core.tags import dated_tags
from bake.engine.bases import base_of
from bake.engine.build import BuildSettings, build
from bake.engine.image_metadata import METADATA_LABELS
from bake.engine.platforms import engine_platform
from bake.engine.sbom_generator import ensure_generator
from bake.paths import REPO_ROOT
from bake.release.attestations import (
    PROVENANCE_PREDICATE,
    REQUIRED_DISTRIBUTIONS,
    SPDX_PREDICATE,
    AttestationError,
    attestation_manifests,
    read_provenances,
    read_sboms,
    sbom_packages,
    verify_attestations,
)
from bake.release.image_facts import expected_packages
from bake.release.merge import merge_all, plan_merge
from bake.release.publish import PublishError, plan_publication, publish, stage
from bake.release.registry import (
    local_platform_images,
    platform_layers,
    platform_manifests,
    push_as,
    registry_digest,
    registry_digest_and_platforms,
)
from bake.release.signing import Signer, SigningError, generate_key_pair, sign, verify
from devtools.local_registry import local_registry
from tests.conftest import ImageUnderTest, rebuild
from tests.image.leftovers import session_labels

TODAY = settings_from_environment().date_tag  # the run's DATE, as every other step takes it
PASSWORD = "test-only"


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with local_registry(tmp_path_factory.mktemp("registry"), labels=session_labels()) as address:
        yield address


def _key_pair(directory: Path) -> tuple[Path, Path]:
    return generate_key_pair(directory, PASSWORD)


@pytest.fixture(scope="module")
def signing_key(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A key pair made for this test run; publishing signs with it (COSIGN_KEY), without the
    transparency log. Yields the public key."""
    private, public = _key_pair(tmp_path_factory.mktemp("signing"))
    saved = {name: os.environ.get(name) for name in ("COSIGN_KEY", "COSIGN_PASSWORD")}
    os.environ.update(COSIGN_KEY=str(private), COSIGN_PASSWORD=PASSWORD)
    yield public
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def _signer() -> Signer:
    return Signer(os.environ["COSIGN_KEY"])


def _source_name(image: ImageUnderTest) -> str:
    return image.local.repository


def _build_child(image: ImageUnderTest, context: Path, platforms: list[str], tag: str) -> None:
    """An image FROM the tested one, with the attestations a release carries (SBOM, max-mode provenance)."""
    generator = ensure_generator(base_of(image.reference))
    docker.buildx.build(
        context,
        platforms=platforms,
        tags=[tag],
        load=True,
        progress=False,
        sbom={"generator": generator},
        provenance={"mode": "max"},
        labels=session_labels(),
    )


def test_publish_pushes_a_signed_index_with_attestations_under_every_tag(
    image: ImageUnderTest, registry: str, signing_key: Path
) -> None:
    target = f"{registry}/uvicorn-gunicorn"
    publish([plan_publication(image.spec, _source_name(image), target, TODAY)], dry_run=False)
    for reference in image_references(image.spec, target, TODAY):
        digest, platforms = registry_digest_and_platforms(reference)
        assert digest == image.image_id, "the pushed index is the tested one"
        assert platforms >= set(image.spec.platforms)
        verify(_signer(), str(reference), image.image_id, public_key=signing_key)
    manifest = docker.buildx.imagetools.inspect(str(local_reference(image.spec, target)))
    attestations = [
        entry for entry in manifest.manifests or [] if entry.platform is not None and entry.platform.os == "unknown"
    ]
    assert len(attestations) == len(platforms), "one attestation manifest per platform"
    # What each platform's image holds, asked of the image itself, is what its SBOM lists.
    # Every platform the pushed index holds: with --platform, the local image may hold more.
    expected = {platform: expected_packages(image.reference, platform) for platform in sorted(platforms)}
    for platform, packages in expected.items():
        assert set(REQUIRED_DISTRIBUTIONS) < set(packages), f"{platform}: the probe found {packages}"
    labels = docker.image.inspect(image.reference).config.labels or {}
    annotations = read_document(ImageReference(target).at(image.image_id)).get("annotations") or {}
    assert annotations, "the index carries annotations"
    assert annotations == {name: labels[name] for name in METADATA_LABELS if name in labels}
    counts = verify_attestations(target, image.image_id, expected)
    assert all(count > 50 for count in counts.values()), f"too few packages for an image with Debian: {counts}"
    sboms = read_sboms(str(ImageReference(target).at(image.image_id)), list(image.spec.platforms))
    for platform, document in sboms.items():
        versions = sbom_packages(document)
        assert versions["uvicorn-worker"] == {expected[platform]["uvicorn-worker"]}
        assert any(package.get("licenseDeclared") not in (None, "NOASSERTION") for package in document["packages"])


def _tags(registry: str, repository: str) -> dict[str, str | None]:
    """{tag: index digest} of a repository in the local registry."""
    listed = requests.get(f"http://{registry}/v2/{repository}/tags/list", timeout=10).json().get("tags") or []
    return {tag: registry_digest(ImageReference(f"{registry}/{repository}", tag)) for tag in sorted(listed)}


def test_a_second_release_of_an_unchanged_commit_writes_no_tag(
    image: ImageUnderTest, registry: str, signing_key: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Built again from the same commit (another index: its provenance differs), the image has
    the same platform images, and publishing it again writes nothing and says why."""
    target = f"{registry}/unchanged"
    publish([plan_publication(image.spec, _source_name(image), target, TODAY)], dry_run=False)
    before = _tags(registry, "unchanged")  # the tags and the signature's
    assert {reference.tag for reference in image_references(image.spec, target, TODAY)} < set(before)
    again = "uvicorn-gunicorn-test/again"
    held = local_platform_images(image.reference)  # with --platform, the tested image may hold more
    rebuilt = replace(image.spec, platforms=tuple(sorted(held)))
    build([rebuilt], BuildSettings(again, TODAY, settings_from_environment().base_mode, find_ca_bundle()))
    try:
        republished = plan_publication(image.spec, again, target, TODAY)
        assert republished.digest != image.image_id, "a rebuild is another index (its provenance differs)"
        assert republished.platform_images == held, "the same platform images"
        capsys.readouterr()
        publish([republished], dry_run=False)
    finally:
        docker.image.remove(reference_strings(image_references(image.spec, again, TODAY)), force=True)
    assert _tags(registry, "unchanged") == before, "no tag written or moved"
    assert f"{image.spec.name}: unchanged, nothing written: " in capsys.readouterr().err


def test_publishing_refuses_to_push_what_it_cannot_sign(
    image: ImageUnderTest, registry: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("COSIGN_KEY", raising=False)
    monkeypatch.delenv("ACTIONS_ID_TOKEN_REQUEST_URL", raising=False)
    with pytest.raises(SigningError, match="COSIGN_KEY"):
        publish([plan_publication(image.spec, _source_name(image), f"{registry}/unsigned", TODAY)], dry_run=False)
    catalog = requests.get(f"http://{registry}/v2/_catalog", timeout=10).json()
    assert "unsigned" not in catalog["repositories"]


def _blob(registry: str, repository: str, digest: str) -> bytes:
    response = requests.get(f"http://{registry}/v2/{repository}/blobs/{digest}", timeout=30)
    response.raise_for_status()
    return response.content


def _put_blob(registry: str, repository: str, content: bytes) -> dict[str, object]:
    digest = digest_of_bytes(content)
    started = requests.post(f"http://{registry}/v2/{repository}/blobs/uploads/", timeout=30)
    started.raise_for_status()
    location = started.headers["Location"]
    if location.startswith("/"):
        location = f"http://{registry}{location}"
    separator = "&" if "?" in location else "?"
    requests.put(f"{location}{separator}digest={digest}", data=content, timeout=30).raise_for_status()
    return {"digest": digest, "size": len(content)}


def _put_manifest(registry: str, repository: str, reference: str, manifest: dict[str, object]) -> str:
    body = json.dumps(manifest).encode()
    headers = {"Content-Type": str(manifest["mediaType"])}
    requests.put(
        f"http://{registry}/v2/{repository}/manifests/{reference}", data=body, headers=headers, timeout=30
    ).raise_for_status()
    return digest_of_bytes(body)


def _tampered(registry: str, repository: str, digest: str, platform: str, change: str) -> str:
    """An index like `digest` where `platform`'s attestations are changed: `sbom` (gunicorn
    taken out of the SBOM), `no-sbom`, `no-provenance` or `no-attestations`; returns its digest."""
    pushed = ImageReference(repository).in_registry(registry)
    index = read_document(pushed.at(digest))
    attestation = attestation_manifests(index)[platform]
    if change == "no-attestations":
        index["manifests"] = [entry for entry in index["manifests"] if entry["digest"] != attestation]
        return _put_manifest(registry, repository, f"tampered-{change}", index)
    manifest = read_document(pushed.at(attestation))
    layers = []
    for layer in manifest["layers"]:
        predicate = layer["annotations"]["in-toto.io/predicate-type"]
        if (change, predicate) in (("no-sbom", SPDX_PREDICATE), ("no-provenance", PROVENANCE_PREDICATE)):
            continue
        if change == "sbom" and predicate == SPDX_PREDICATE:
            statement = json.loads(_blob(registry, repository, layer["digest"]))
            packages = statement["predicate"]["packages"]
            statement["predicate"]["packages"] = [package for package in packages if package["name"] != "gunicorn"]
            layer = {**layer, **_put_blob(registry, repository, json.dumps(statement).encode())}
        layers.append(layer)
    new_attestation = _put_manifest(registry, repository, f"attestation-{change}", {**manifest, "layers": layers})
    for entry in index["manifests"]:
        if entry["digest"] == attestation:
            entry["digest"] = new_attestation
            entry["size"] = len(json.dumps({**manifest, "layers": layers}).encode())
    return _put_manifest(registry, repository, f"tampered-{change}", index)


@pytest.mark.parametrize("change", ["sbom", "no-sbom", "no-provenance", "no-attestations"])
def test_a_missing_or_altered_attestation_fails_verification(
    image: ImageUnderTest, registry: str, signing_key: Path, change: str
) -> None:
    """An index whose attestations were taken out or altered fails the attestation check, and
    the signature of the published index does not cover it."""
    repository = f"tampering-{change}"  # its own repository: no case reads or rewrites another's tags
    pushed = ImageReference(repository).in_registry(registry)
    push_as(image.reference, pushed.with_tag("original"))
    sign(_signer(), str(pushed.at(image.image_id)))
    verify(_signer(), str(pushed.with_tag("original")), image.image_id, public_key=signing_key)
    platform = image.spec.platforms[-1]
    expected = {platform: expected_packages(image.reference, platform)}
    verify_attestations(pushed.repository, image.image_id, expected)  # the original passes
    tampered = _tampered(registry, repository, image.image_id, platform, change)
    assert tampered != image.image_id
    with pytest.raises(AttestationError, match=platform):
        verify_attestations(pushed.repository, tampered, expected)
    with pytest.raises(SigningError):
        verify(_signer(), str(pushed.at(tampered)), tampered, public_key=signing_key)


def test_a_missing_or_foreign_signature_fails_verification(
    image: ImageUnderTest, registry: str, signing_key: Path, tmp_path: Path
) -> None:
    unsigned = ImageReference("unsigned-or-foreign").in_registry(registry)
    reference = str(unsigned.at(image.image_id))
    push_as(image.reference, unsigned.with_tag(image.spec.tag))
    with pytest.raises(SigningError, match="does not verify"):
        verify(_signer(), reference, image.image_id, public_key=signing_key)
    foreign_key, _ = _key_pair(tmp_path)
    sign(Signer(str(foreign_key)), reference)
    with pytest.raises(SigningError, match="does not verify"):
        verify(_signer(), reference, image.image_id, public_key=signing_key)


def test_dry_run_pushes_nothing(image: ImageUnderTest, registry: str, capsys: pytest.CaptureFixture[str]) -> None:
    target = f"{registry}/dry-run"
    publish([plan_publication(image.spec, _source_name(image), target, TODAY)], dry_run=True)
    date_tag = ImageReference(target, dated_tags(image.spec, TODAY)[0])
    assert f"would push {image.reference} ({image.image_id}) as {date_tag}, " in (capsys.readouterr().out)
    catalog = requests.get(f"http://{registry}/v2/_catalog", timeout=10).json()
    assert "dry-run" not in catalog["repositories"]


def test_incomplete_platform_set_is_refused(image: ImageUnderTest, registry: str, tmp_path: Path) -> None:
    """An image of one platform, published as the matrix's tag (every platform), is refused."""
    (tmp_path / "Dockerfile").write_text(f"FROM {image.reference}\n")
    one_platform = str(local_reference(image.spec, "uvicorn-gunicorn-test/incomplete"))
    docker.buildx.build(
        tmp_path,
        platforms=[image.spec.platforms[0]],
        tags=[one_platform],
        load=True,
        progress=False,
        labels=session_labels(),
    )
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
    image: ImageUnderTest, registry: str, tmp_path: Path, signing_key: Path
) -> None:
    """The native-runner pattern: each platform built, tested and staged on its own runner
    (here: single-platform images of the tested one, with a release's attestations), then
    merged under every tag, signed, with each platform's attestations intact."""
    (tmp_path / "Dockerfile").write_text(f"FROM {image.reference}\n")
    staged: list[str] = []
    for platform in image.spec.platforms:
        local = f"uvicorn-gunicorn-test/runner-{platform.replace('/', '-')}"
        _build_child(image, tmp_path, [platform], str(local_reference(image.spec, local)))
        try:
            publication = plan_publication(_single_platform(image.spec, platform), local, f"{registry}/staging", TODAY)
            staged.append(stage([publication])[image.spec.tag])
        finally:
            docker.image.remove(str(local_reference(image.spec, local)), force=True)
        assert registry_digest_and_platforms(staged[-1])[1] == {platform}
    staged_attestations: dict[str, str] = {}
    for source in staged:
        staged_attestations |= attestation_manifests(read_document(source))
    merged = merge_all([plan_merge(image.spec, f"{registry}/merged", staged)], TODAY)[image.spec.tag]
    for reference in image_references(image.spec, f"{registry}/merged", TODAY):
        assert registry_digest_and_platforms(reference) == (merged, set(image.spec.platforms))
        verify(_signer(), str(reference), merged, public_key=signing_key)
    index = read_document(ImageReference(f"{registry}/merged").at(merged))
    assert attestation_manifests(index) == staged_attestations, (
        "each platform keeps the attestations it was staged with"
    )
    labels = docker.image.inspect(image.reference).config.labels or {}
    assert index["annotations"] == {name: labels[name] for name in METADATA_LABELS if name in labels}, (
        "the merged index repeats the images' metadata labels"
    )
    expected = {platform: expected_packages(image.reference, platform) for platform in image.spec.platforms}
    verify_attestations(f"{registry}/merged", merged, expected)
    with pytest.raises(PublishError, match="by digest"):
        by_tag = ImageReference(f"{registry}/staging", f"{image.spec.tag}-linux-amd64")
        plan_merge(image.spec, f"{registry}/merged", [str(by_tag)])
    with pytest.raises(PublishError, match="not exactly"):  # one platform short of the matrix's tag
        plan_merge(image.in_matrix, f"{registry}/incomplete-merge", staged[:1])
    catalog = requests.get(f"http://{registry}/v2/_catalog", timeout=10).json()
    assert "incomplete-merge" not in catalog["repositories"]


def test_a_date_tag_never_moves(
    image: ImageUnderTest, registry: str, tmp_path: Path, platform: str, signing_key: Path
) -> None:
    """A second release the same day with other content takes the next serial date tag; the
    moving tag follows it; a retried release of the same index keeps its date tag."""
    spec = _single_platform(image.spec, platform)
    repository = f"{registry}/same-day-{platform.replace('/', '-')}"
    date_tag = ImageReference(repository, dated_tags(spec, TODAY)[0])
    published = {}
    for release in ("first", "second"):
        (tmp_path / "Dockerfile").write_text(f"FROM {image.reference}\nLABEL release={release}\n")
        local = f"uvicorn-gunicorn-test/{release}"
        _build_child(image, tmp_path, [platform], str(local_reference(spec, local)))
        try:
            publication = plan_publication(spec, local, repository, TODAY)
            publish([publication], dry_run=False)
            publish([publication], dry_run=False)  # retried: nothing moves, no serial is used up
        finally:
            docker.image.remove(str(local_reference(spec, local)), force=True)
        published[release] = publication.digest
    assert published["first"] != published["second"]
    assert registry_digest(date_tag) == published["first"]
    assert registry_digest(date_tag.with_serial(2)) == published["second"]
    assert registry_digest(date_tag.with_serial(3)) is None
    assert registry_digest(local_reference(spec, repository)) == published["second"]


def test_a_date_only_change_rebuilds_no_layer(image: ImageUnderTest, registry: str) -> None:
    """Built on two dates, one right after the other, every platform's image is byte for byte
    the same. Both builds start from the same build cache: comparing with the image under test
    instead would also compare the cache against the time that image was built (another test's
    --no-cache build replaces the cache with layers of equal contents but other bytes). Both are
    on the base the image was built on (rebuild pins it)."""
    references = {day: str(ImageReference(f"{registry}/dates", day)) for day in ("2026-11-24", "1999-12-31")}
    try:
        for day, reference in references.items():
            rebuild(image, reference, variables={"DATE": day})
            docker.image.push(reference, quiet=True)
    finally:
        docker.image.remove(list(references.values()), force=True)
    first, second = (platform_manifests(reference) for reference in references.values())
    assert set(first) >= set(image.spec.platforms)
    assert first == second


def test_registry_build_cache_holds_every_layer_the_image_adds(image: ImageUnderTest, registry: str) -> None:
    """CACHE_REF with CACHE_EXPORT writes the build cache to a registry (mode=max), so a runner
    starting with an empty engine can take every layer of the image from it."""
    local = str(local_reference(image.spec, "uvicorn-gunicorn-test/cached"))
    rebuild(image, local, variables={"CACHE_REF": f"{registry}/build-cache", "CACHE_EXPORT": "true"})
    cached, cached_base, cache_tag = (
        local_reference(image.spec, name).in_registry(registry) for name in ("cached", "cached-base", "build-cache")
    )
    try:
        push_as(local, cached)
        push_as(base_of(image.reference), cached_base)
    finally:
        docker.image.remove(local, force=True)
    cache = read_document(cache_tag)
    cached_blobs = {entry["digest"] for entry in cache["manifests"]}
    base_layers = platform_layers(cached_base)
    for platform, layers in platform_layers(cached).items():
        added = {layer.digest for layer in layers[len(base_layers[platform]) :]}
        assert added, f"no layers over the base for {platform}"
        assert added <= cached_blobs, f"{platform}: {len(added - cached_blobs)} layers missing from the cache"


def _label(reference: str, name: str) -> str:
    labels = docker.image.inspect(reference).config.labels or {}
    return labels[name]


def _resolved_bases(provenance: Mapping[str, Any], base: str) -> set[str]:
    """The digests BuildKit resolved `base` to, as each platform's provenance lists its materials."""
    repository = _without_default_registry(parse_reference(base).repository)
    return {
        f"sha256:{material['digest']['sha256']}"
        for document in provenance.values()
        for material in document["SLSA"]["materials"]
        if _purl_repository(material["uri"]) == repository
    }


def _purl_repository(uri: str) -> str:
    """The repository a material's package URL names: pkg:docker/standin/python@3.11-slim?platform=..."""
    return _without_default_registry(unquote(uri.removeprefix("pkg:docker/")).partition("?")[0].partition("@")[0])


def _without_default_registry(repository: str) -> str:
    """`python` for `docker.io/library/python` and `library/python` too, as names are written."""
    return repository.removeprefix("docker.io/").removeprefix("library/")


def test_the_image_records_the_digest_of_the_base_it_was_built_on(image: ImageUnderTest, registry: str) -> None:
    """The label the build wrote against the index BuildKit really took for FROM, which the
    image's provenance records (read from a registry: the local store does not show it)."""
    pushed = local_reference(image.spec, "uvicorn-gunicorn-test/provenance").in_registry(registry)
    push_as(image.reference, pushed)
    # One platform's image (a native runner's) has its provenance unkeyed: read_provenances keys it.
    provenance = read_provenances(str(pushed), list(image.spec.platforms))
    base = base_of(image.reference)
    assert _resolved_bases(provenance, base) == {_label(image.reference, BASE_DIGEST_LABEL)}, provenance


def test_a_tag_is_rebuilt_when_its_base_moved_and_only_then(
    image: ImageUnderTest, registry: str, tmp_path: Path
) -> None:
    """The local registry stands in for the base's: an image built on a base there is skipped
    while the base stays, and rebuilt once another index is pushed under the base's tag."""
    # The native platform where the image has it; an image built for one emulated platform
    # alone (a runner's platform played on another machine) has only that.
    native = engine_platform()
    platform = native if native in image.spec.platforms else image.spec.platforms[0]
    base = str(local_reference(image.spec, "python").in_registry(registry))
    push_as(base_of(image.reference), base)
    assert not docker.image.exists(base), "the base is read from the registry, not the local store"
    built_on = registry_digest(base)
    assert built_on is not None
    local = str(local_reference(image.spec, "uvicorn-gunicorn-test/on-registry-base"))
    rebuild(image, local, args={"BASE_IMAGE": base, "BASE_DIGEST": built_on, "BASE_PIN": built_on}, platform=platform)
    published = str(local_reference(image.spec, "base-check").in_registry(registry))
    try:
        push_as(local, published)
    finally:
        docker.image.remove(local, force=True)
    assert published_labels(published) is not None
    unchanged = check_base(image.spec.tag, published, published_labels, current_digest)
    assert not unchanged.rebuild, str(unchanged)
    assert str(unchanged) == f"{image.spec.tag}: skip: base {base} is still {built_on}"
    assert check_base(
        image.spec.tag,
        str(ImageReference("never-published", "x").in_registry(registry)),
        published_labels,
        current_digest,
    ).rebuild

    def plan() -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "bake.release.plan", f"--if-base-moved={registry}/base-check", image.spec.tag]
        return subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, check=True)

    assert "tags=\n" in plan().stdout + "\n"
    (tmp_path / "Dockerfile").write_text(f"FROM {image.reference}\nLABEL moved=yes\n")
    docker.buildx.build(
        tmp_path, platforms=[platform], tags=[f"{local}-moved"], load=True, progress=False, labels=session_labels()
    )
    try:
        push_as(f"{local}-moved", base)  # the base's tag now names another index
    finally:
        docker.image.remove(f"{local}-moved", force=True)
    moved_to = registry_digest(base)
    result = plan()
    assert f"tags={image.spec.tag}\n" in result.stdout
    assert f"{image.spec.tag}: rebuild: base {base} moved from {built_on} to {moved_to}" in result.stderr
