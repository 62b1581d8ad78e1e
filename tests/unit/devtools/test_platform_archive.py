"""One platform's image out of a saved multi-platform index, checked on a synthetic archive."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

from bake.core.registry_reader import digest_of_bytes
from devtools.hosttest.machine import HostTestError
from devtools.hosttest.platform_archive import extract_platform

NAME = "docker.io/library/uvicorn-gunicorn:python3.11-slim"


def _blob(blobs: dict[str, bytes], content: bytes) -> dict[str, object]:
    digest = digest_of_bytes(content)
    blobs[f"blobs/sha256/{digest.split(':')[1]}"] = content
    return {"digest": digest, "size": len(content)}


def _image(blobs: dict[str, bytes], architecture: str, shared_layer: bytes) -> dict[str, object]:
    config = _blob(blobs, json.dumps({"architecture": architecture}).encode())
    own_layer = _blob(blobs, f"layer of {architecture}".encode())
    layers = [_blob(blobs, shared_layer), own_layer]
    manifest = json.dumps({"schemaVersion": 2, "config": config, "layers": layers}, indent=1).encode()
    return {
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        **_blob(blobs, manifest),
        "platform": {"architecture": architecture, "os": "linux"},
    }


def saved_index(path: Path, top_type: str = "application/vnd.oci.image.index.v1+json") -> dict[str, object]:
    """An archive shaped as `docker save` writes a two-platform index with the containerd store."""
    blobs: dict[str, bytes] = {}
    amd64 = _image(blobs, "amd64", b"base layer")
    arm64 = _image(blobs, "arm64", b"base layer")
    attestation = {**_blob(blobs, b"{}"), "platform": {"architecture": "unknown", "os": "unknown"}}
    index = json.dumps({"schemaVersion": 2, "manifests": [amd64, arm64, attestation]}).encode()
    top = {"mediaType": top_type, **_blob(blobs, index), "annotations": {"io.containerd.image.name": NAME}}
    files = {"oci-layout": b'{"imageLayoutVersion": "1.0.0"}', "index.json": json.dumps({"manifests": [top]}).encode()}
    with tarfile.open(path, "w") as archive:
        for name, content in {**files, **blobs}.items():
            member = tarfile.TarInfo(name)
            member.size = len(content)
            archive.addfile(member, io.BytesIO(content))
    return amd64


def _members(path: Path) -> dict[str, bytes]:
    with tarfile.open(path) as archive:
        return {member.name: archive.extractfile(member).read() for member in archive if member.isfile()}  # type: ignore[union-attr]


def test_only_the_platforms_blobs_go_into_the_archive(tmp_path: Path) -> None:
    amd64 = saved_index(tmp_path / "saved.tar")
    extracted = extract_platform(tmp_path / "saved.tar", "linux/amd64", tmp_path / "amd64.tar")
    assert extracted.digest == amd64["digest"]
    assert extracted.reference == NAME
    members = _members(tmp_path / "amd64.tar")
    manifest_bytes = members[f"blobs/sha256/{str(amd64['digest']).split(':')[1]}"]
    assert digest_of_bytes(manifest_bytes) == amd64["digest"]  # copied byte for byte
    manifest = json.loads(manifest_bytes)
    wanted = {manifest["config"]["digest"], *(layer["digest"] for layer in manifest["layers"]), amd64["digest"]}
    blobs = {f"sha256:{name.rsplit('/', 1)[1]}" for name in members if name.startswith("blobs/")}
    assert blobs == wanted
    assert all(digest_of_bytes(content) == f"sha256:{name.rsplit('/', 1)[1]}" for name, content in members.items()
               if name.startswith("blobs/"))  # fmt: skip
    (entry,) = json.loads(members["index.json"])["manifests"]
    assert entry["digest"] == amd64["digest"] and entry["annotations"]["io.containerd.image.name"] == NAME
    (docker_entry,) = json.loads(members["manifest.json"])
    assert docker_entry["RepoTags"] == ["uvicorn-gunicorn:python3.11-slim"]
    assert docker_entry["Config"] == f"blobs/sha256/{manifest['config']['digest'].split(':')[1]}"


def test_a_platform_the_index_lacks_is_one_error(tmp_path: Path) -> None:
    saved_index(tmp_path / "saved.tar")
    with pytest.raises(HostTestError, match="0 manifests for linux/riscv64"):
        extract_platform(tmp_path / "saved.tar", "linux/riscv64", tmp_path / "out.tar")


def test_a_single_platform_save_is_refused(tmp_path: Path) -> None:
    saved_index(tmp_path / "saved.tar", top_type="application/vnd.oci.image.manifest.v1+json")
    with pytest.raises(HostTestError, match="not a multi-platform index"):
        extract_platform(tmp_path / "saved.tar", "linux/amd64", tmp_path / "out.tar")
