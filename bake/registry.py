"""Reads of what a registry holds, through buildx's imagetools (the engine's credentials)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from python_on_whales import docker
from python_on_whales.utils import run


def read_raw(reference: str) -> str:
    """A manifest or index exactly as the registry serves it."""
    return str(run([*docker.client_config.docker_cmd, "buildx", "imagetools", "inspect", "--raw", reference]))


def index_digest_and_platforms(raw: str) -> tuple[str, dict[str, str]]:
    """An index's digest (of its bytes exactly as served or pushed) and each platform's manifest
    digest, attestation manifests left out."""
    manifests = {
        f"{entry['platform']['os']}/{entry['platform']['architecture']}": entry["digest"]
        for entry in json.loads(raw).get("manifests", [])
        if entry.get("platform", {}).get("os", "unknown") != "unknown"
    }
    return "sha256:" + hashlib.sha256(raw.encode()).hexdigest(), manifests


def read_manifest(reference: str) -> dict[str, Any]:
    """A manifest or index in a registry, as the registry serves it."""
    loaded: dict[str, Any] = json.loads(read_raw(reference))
    return loaded


def read_formatted(reference: str, field: str) -> Any:
    """A field imagetools decodes from the registry (`SBOM`, `Provenance`, `Image`): for an
    index of several platforms, a mapping of platform to value."""
    command = [*docker.client_config.docker_cmd, "buildx", "imagetools", "inspect"]
    return json.loads(str(run([*command, "--format", f"{{{{ json .{field} }}}}", reference])))
