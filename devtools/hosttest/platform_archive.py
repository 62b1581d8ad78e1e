"""One platform's image out of a saved multi-platform index (`docker save` with the containerd
image store: an OCI layout, plus Docker's manifest.json for the native platform).

A guest that runs only linux/amd64 needs only that platform's blobs: loading the whole index
there unpacks the other platforms' layers too, under emulation, for nothing. The platform's
manifest is copied byte for byte, so the guest's engine loads exactly the host's platform image
and names it by the same manifest digest."""

from __future__ import annotations

import io
import json
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devtools.hosttest.machine import HostTestError

INDEX_TYPES = ("application/vnd.oci.image.index.v1+json", "application/vnd.docker.distribution.manifest.list.v2+json")


@dataclass(frozen=True)
class PlatformImage:
    digest: str  # of the platform's manifest, as the index lists it
    reference: str  # the name the saved index carried


def _blob_name(digest: str) -> str:
    algorithm, _, hexdigest = digest.partition(":")
    return f"blobs/{algorithm}/{hexdigest}"


def _platform_of(descriptor: dict[str, Any]) -> str:
    platform = descriptor.get("platform") or {}
    name = f"{platform.get('os')}/{platform.get('architecture')}"
    return f"{name}/{platform['variant']}" if platform.get("variant") else name


def _add(archive: tarfile.TarFile, name: str, content: bytes) -> None:
    member = tarfile.TarInfo(name)
    member.size = len(content)
    member.mode = 0o644
    archive.addfile(member, io.BytesIO(content))


def extract_platform(saved: Path, platform: str, output: Path) -> PlatformImage:
    """Writes an archive of `saved`'s image for `platform` alone to `output`, loadable by Docker
    (OCI layout) and Podman (Docker's manifest.json); HostTestError if the index lacks it."""
    with tarfile.open(saved) as source:

        def read(name: str) -> bytes:
            member = source.extractfile(name)
            if member is None:
                raise HostTestError(f"{saved}: no {name}")
            return member.read()

        (top,) = json.loads(read("index.json"))["manifests"]
        reference = top.get("annotations", {}).get("io.containerd.image.name", "")
        if top["mediaType"] not in INDEX_TYPES:
            raise HostTestError(f"{saved} holds one image, not a multi-platform index: {top['mediaType']}")
        matching = [entry for entry in json.loads(read(_blob_name(top["digest"])))["manifests"]
                    if _platform_of(entry) == platform]  # fmt: skip
        if len(matching) != 1:
            raise HostTestError(f"{saved}: {len(matching)} manifests for {platform} in its index")
        (descriptor,) = matching
        manifest_bytes = read(_blob_name(descriptor["digest"]))
        manifest = json.loads(manifest_bytes)
        layers = [layer["digest"] for layer in manifest["layers"]]
        entry = {**descriptor, "annotations": top.get("annotations", {})}
        docker_manifest = [{
            "Config": _blob_name(manifest["config"]["digest"]),
            "RepoTags": [reference.removeprefix("docker.io/library/")] if reference else [],
            "Layers": [_blob_name(layer) for layer in layers],
        }]  # fmt: skip
        with tarfile.open(output, "w") as archive:
            _add(archive, "oci-layout", read("oci-layout"))
            _add(archive, "index.json", json.dumps({"schemaVersion": 2, "manifests": [entry]}).encode())
            _add(archive, "manifest.json", json.dumps(docker_manifest).encode())
            _add(archive, _blob_name(descriptor["digest"]), manifest_bytes)
            for digest in dict.fromkeys([manifest["config"]["digest"], *layers]):
                member = source.getmember(_blob_name(digest))
                archive.addfile(member, source.extractfile(member))
    return PlatformImage(descriptor["digest"], reference)
