"""The CA bundle reaches pip during the build as a secret, and no layer or history entry keeps it.

A fresh certificate (the canary) is added to the host's bundle and the image's pip steps
are run again, under a fresh cache key, on the native platform (the native stage's download
reads the secret; the image's own stage mounts it for a package without a wheel). The canary
must then be found nowhere in the result.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from python_on_whales import DockerException, docker

from bake.core.ca_bundle import find_ca_bundle
from bake.core.naming import local_reference
from bake.engine.platforms import engine_platform
from tests.conftest import ImageUnderTest, rebuild
from tests.image.tls import self_signed


def _pem_body(pem: str) -> bytes:
    """The base64 text of a certificate, without its armour or line breaks."""
    return "".join(line for line in pem.splitlines() if "-----" not in line).encode()


@pytest.fixture(scope="module")
def canary(tmp_path_factory: pytest.TempPathFactory) -> str:
    made = self_signed(tmp_path_factory.mktemp("canary"), "/CN=uvicorn-gunicorn build secret canary")
    return made.certificate.read_text()


def _build(image: ImageUnderTest, bundle: Path, tag: str) -> None:
    """Runs the image's pip step again, under a cache key of its own, with `bundle` as pip's CA secret."""
    rebuild(
        image,
        tag,
        args={"PIP_REFRESH": uuid.uuid4().hex},
        variables={"CA_BUNDLE": str(bundle)},
        platform=engine_platform(),
    )


@pytest.fixture(scope="module")
def canary_image(image: ImageUnderTest, canary: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    bundle = tmp_path_factory.mktemp("bundle") / "ca-bundle.pem"
    bundle.write_text(find_ca_bundle().read_text() + "\n" + canary)
    tag = str(local_reference(image.spec, "uvicorn-gunicorn-test/canary"))
    _build(image, bundle, tag)
    yield tag
    docker.image.remove(tag, force=True)


@pytest.fixture(scope="module")
def saved_canary(canary_image: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    saved = tmp_path_factory.mktemp("saved") / "image.tar"
    docker.image.save(canary_image, output=saved)
    return saved


def _blobs(saved: Path) -> Iterator[bytes]:
    with tarfile.open(saved) as archive:
        for blob in archive.getmembers():
            if blob.isfile() and blob.name.startswith("blobs/"):
                handle = archive.extractfile(blob)
                assert handle is not None
                yield handle.read()


def _layer_files(saved: Path) -> Iterator[tuple[str, bytes]]:
    """(path, content) of every regular file in every layer of a `docker save` archive."""
    for blob in _blobs(saved):
        try:
            layer = tarfile.open(fileobj=io.BytesIO(blob), mode="r:*")  # noqa: SIM115 (closed by the with below)
        except tarfile.ReadError:
            continue  # a manifest or a config, not a layer
        with layer:
            for member in layer.getmembers():
                if member.isfile():
                    content = layer.extractfile(member)
                    assert content is not None
                    yield member.name, content.read()


def _history(saved: Path) -> list[str]:
    """The `created_by` of every history entry in the image configs of a `docker save` archive."""
    entries: list[str] = []
    for blob in _blobs(saved):
        try:
            document = json.loads(blob)
        except (UnicodeDecodeError, json.JSONDecodeError):
            continue
        if isinstance(document, dict) and "history" in document:
            entries += [step.get("created_by", "") for step in document["history"]]
    return entries


def test_pip_trusts_the_secret_bundle(image: ImageUnderTest, canary: str, tmp_path: Path) -> None:
    """With only the canary as its CA bundle, pip cannot reach the index: the secret is what it trusts."""
    bundle = tmp_path / "canary-only.pem"
    bundle.write_text(canary)
    with pytest.raises(DockerException) as failure:
        _build(image, bundle, "uvicorn-gunicorn-test/untrusted:never")
    assert "CERTIFICATE_VERIFY_FAILED" in (failure.value.stderr or "")


def test_bundle_is_in_no_layer(saved_canary: Path, canary: str) -> None:
    canary_body = _pem_body(canary)
    bundle_digest = hashlib.sha256((find_ca_bundle().read_text() + "\n" + canary).encode()).digest()
    files = 0
    for name, content in _layer_files(saved_canary):
        files += 1
        assert not name.lstrip("./").startswith("run/secrets/"), name
        assert hashlib.sha256(content).digest() != bundle_digest, f"{name} is a copy of the CA bundle"
        assert canary_body not in b"".join(content.split()), f"{name} holds the canary certificate"
    assert files > 1000, f"only {files} files read: the scan did not see the image's layers"


def test_bundle_is_not_in_the_history(saved_canary: Path, canary: str) -> None:
    history = "\n".join(_history(saved_canary))
    # The image's own step with the secret mounted (pip for a package without a wheel); pip's
    # other steps run in the native stages, whose layers and history the image does not carry.
    assert "native_install.py sdists" in history, "the history does not show the build steps"
    assert "BEGIN CERTIFICATE" not in history
    assert _pem_body(canary).decode()[:40] not in history
