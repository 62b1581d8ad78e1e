"""Reads of what a registry holds, through buildx's imagetools (the engine's credentials)."""

from __future__ import annotations

import json
from typing import Any

from python_on_whales import docker
from python_on_whales.utils import run


def read_raw(reference: str) -> str:
    """A manifest or index exactly as the registry serves it."""
    return str(run([*docker.client_config.docker_cmd, "buildx", "imagetools", "inspect", "--raw", reference]))


def read_manifest(reference: str) -> dict[str, Any]:
    """A manifest or index in a registry, as the registry serves it."""
    loaded: dict[str, Any] = json.loads(read_raw(reference))
    return loaded


def read_formatted(reference: str, field: str) -> Any:
    """A field imagetools decodes from the registry (`SBOM`, `Provenance`, `Image`): for an
    index of several platforms, a mapping of platform to value."""
    command = [*docker.client_config.docker_cmd, "buildx", "imagetools", "inspect"]
    return json.loads(str(run([*command, "--format", f"{{{{ json .{field} }}}}", reference])))
