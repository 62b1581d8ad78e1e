"""The registry client: reads of what a registry holds (through buildx's imagetools, with the
engine's credentials) and pushes of a local image under a registry name."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from python_on_whales import DockerException, docker
from python_on_whales.utils import run

from bake.core.reference import ImageReference

# Either spelling of a name: the typed one, or one read from a file or a command line.
Reference = ImageReference | str


def read_raw(reference: Reference) -> str:
    """A manifest or index exactly as the registry serves it."""
    return str(run([*docker.client_config.docker_cmd, "buildx", "imagetools", "inspect", "--raw", str(reference)]))


def index_digest_and_platforms(raw: str) -> tuple[str, dict[str, str]]:
    """An index's digest (of its bytes exactly as served or pushed) and each platform's manifest
    digest, attestation manifests left out."""
    manifests = {
        f"{entry['platform']['os']}/{entry['platform']['architecture']}": entry["digest"]
        for entry in json.loads(raw).get("manifests", [])
        if entry.get("platform", {}).get("os", "unknown") != "unknown"
    }
    return "sha256:" + hashlib.sha256(raw.encode()).hexdigest(), manifests


def read_manifest(reference: Reference) -> dict[str, Any]:
    """A manifest or index in a registry, as the registry serves it."""
    loaded: dict[str, Any] = json.loads(read_raw(reference))
    return loaded


def read_formatted(reference: Reference, field: str) -> Any:
    """A field imagetools decodes from the registry (`SBOM`, `Provenance`, `Image`): for an
    index of several platforms, a mapping of platform to value."""
    command = [*docker.client_config.docker_cmd, "buildx", "imagetools", "inspect"]
    return json.loads(str(run([*command, "--format", f"{{{{ json .{field} }}}}", str(reference)])))


def _read_index(reference: Reference) -> tuple[str, dict[str, str]]:
    """A pushed index, read once: its digest and each platform's manifest digest (attestations left out)."""
    return index_digest_and_platforms(read_raw(reference))


def registry_digest(reference: Reference) -> str | None:
    """The index digest the registry holds under `reference`; None when there is no such tag."""
    try:
        return _read_index(reference)[0]
    except DockerException as error:
        if "not found" in f"{error.stderr}{error.stdout}".lower():
            return None
        raise


def platform_manifests(reference: Reference) -> dict[str, str]:
    return _read_index(reference)[1]


def registry_digest_and_platforms(reference: Reference) -> tuple[str, set[str]]:
    digest, manifests = _read_index(reference)
    return digest, set(manifests)


@dataclass(frozen=True)
class Layer:
    digest: str
    compressed: int


def platform_layers(index: ImageReference) -> dict[str, list[Layer]]:
    """Each platform's layers, in order, of a multi-platform index in the registry."""
    return {
        platform: [Layer(layer["digest"], layer["size"]) for layer in read_manifest(index.at(digest))["layers"]]
        for platform, digest in platform_manifests(index).items()
    }


def push_as(source: Reference, target: Reference) -> None:
    """Pushes the local `source` under the registry name `target`; the name is gone again afterwards."""
    docker.image.tag(str(source), str(target))
    try:
        docker.image.push(str(target), quiet=True)
    finally:
        docker.image.remove(str(target))
