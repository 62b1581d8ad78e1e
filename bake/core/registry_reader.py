"""The one reader of what a registry holds, through the engine's `docker buildx imagetools`
(so with the engine's credentials): an index's digest and platforms as the engine computed
them, a manifest's JSON, a field imagetools decodes (SBOM, provenance, image config).

Nothing else hashes a manifest: the digest of a pushed index is the one imagetools reports
(`{{json .Manifest}}`), never a hash of text that went through a decoder. A missing tag is
told apart from any other failure by imagetools' own error line for it (`ERROR: REF: not
found`), not by words anywhere in the output.

Standard library only: the release plan runs it on a bare runner before anything is installed.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bake.errors import BakeError

INSPECT = ("docker", "buildx", "imagetools", "inspect")
# imagetools' last line for a tag or repository the registry does not have.
MISSING = re.compile(r"^ERROR: \S+: not found$")


class RegistryReadError(BakeError):
    """A registry could not be read for a reason other than a missing tag."""


@dataclass(frozen=True)
class Index:
    """A pushed index (or a single manifest): its digest, and each platform's image manifest
    digest, attestation manifests left out."""

    digest: str
    platforms: Mapping[str, str]
    annotations: Mapping[str, str]

    @property
    def platform_set(self) -> set[str]:
        return set(self.platforms)


def platform_name(entry: Mapping[str, Any]) -> str:
    """`os/architecture` of an index entry, as the matrix names platforms (an arm64 entry's
    variant `v8` left out); `unknown/unknown` for an attestation manifest."""
    platform = entry.get("platform") or {}
    return f"{platform.get('os', 'unknown')}/{platform.get('architecture', 'unknown')}"


def index_of(document: Mapping[str, Any]) -> Index:
    """The Index that imagetools' `.Manifest` (or an index document holding a `digest`) describes."""
    platforms = {
        platform_name(entry): entry["digest"]
        for entry in document.get("manifests", [])
        if platform_name(entry) != "unknown/unknown"
    }
    return Index(str(document["digest"]), platforms, dict(document.get("annotations") or {}))


def _inspect(reference: str, *options: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([*INSPECT, *options, reference], capture_output=True, stdin=subprocess.DEVNULL)


def is_missing(stderr: bytes | str) -> bool:
    """Whether imagetools' error output says the reference does not exist."""
    text = stderr.decode(errors="replace") if isinstance(stderr, bytes) else stderr
    lines = text.strip().splitlines()
    return bool(lines) and MISSING.match(lines[-1].strip()) is not None


def _failure(result: subprocess.CompletedProcess[bytes], reference: str) -> RegistryReadError:
    lines = result.stderr.decode(errors="replace").strip().splitlines()
    return RegistryReadError(f"cannot read {reference}: {lines[-1] if lines else f'exit code {result.returncode}'}")


def _read(reference: object, *options: str) -> bytes | None:
    """imagetools' output for `reference`; None when the registry has no such tag."""
    result = _inspect(str(reference), *options)
    if result.returncode == 0:
        return result.stdout
    if is_missing(result.stderr):
        return None
    raise _failure(result, str(reference))


def find_index(reference: object) -> Index | None:
    """The index the registry holds under `reference`; None when there is no such tag."""
    output = _read(reference, "--format", "{{json .Manifest}}")
    return None if output is None else index_of(json.loads(output))


def read_index(reference: object) -> Index:
    """The index the registry holds under `reference`, which must exist."""
    found = find_index(reference)
    if found is None:
        raise RegistryReadError(f"cannot read {reference}: not found")
    return found


def find_digest(reference: object) -> str | None:
    found = find_index(reference)
    return None if found is None else found.digest


def read_document(reference: object) -> dict[str, Any]:
    """A manifest or index as the registry serves it, parsed from its bytes (never re-hashed)."""
    output = _read(reference, "--raw")
    if output is None:
        raise RegistryReadError(f"cannot read {reference}: not found")
    loaded: dict[str, Any] = json.loads(output)
    return loaded


def find_formatted(reference: object, field: str) -> Any | None:
    """A field imagetools decodes from the registry (`SBOM`, `Provenance`, `Image`): for an
    index of several platforms, a mapping of platform to value; None when there is no such tag."""
    output = _read(reference, "--format", f"{{{{ json .{field} }}}}")
    return None if output is None else json.loads(output)


def read_formatted(reference: object, field: str) -> Any:
    found = find_formatted(reference, field)
    if found is None:
        raise RegistryReadError(f"cannot read {reference}: not found")
    return found


def digest_of_bytes(content: bytes) -> str:
    """The digest of content as it is stored (a blob, a manifest's exact bytes)."""
    return "sha256:" + hashlib.sha256(content).hexdigest()
