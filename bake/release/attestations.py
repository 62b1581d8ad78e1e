"""The attestations of a published index, read back from the registry and checked: for every
platform, an attestation manifest bound to that platform's image, holding an SPDX SBOM that
lists the expected packages at their versions and a max-mode SLSA provenance."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from bake.core.reference import ImageReference
from bake.core.registry_reader import platform_name, read_document, read_formatted
from bake.errors import BakeError
from bake.progress import say

SPDX_PREDICATE = "https://spdx.dev/Document"
PROVENANCE_PREDICATE = "https://slsa.dev/provenance/v0.2"
BUILDKIT_BUILD_TYPE = "https://mobyproject.org/buildkit@v1"
# The server stack every image must list, besides its Python interpreter.
REQUIRED_DISTRIBUTIONS = ("gunicorn", "uvicorn", "uvicorn-worker")


class AttestationError(BakeError):
    """A published index lacks an attestation, or one says something other than expected."""


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _images(index: Mapping[str, Any]) -> dict[str, str]:
    """{image manifest digest: platform} of an index, attestation manifests left out."""
    return {
        entry["digest"]: platform_name(entry)
        for entry in index.get("manifests", [])
        if platform_name(entry) != "unknown/unknown"
    }


def attestation_manifests(index: Mapping[str, Any]) -> dict[str, str]:
    """{platform: digest of the attestation manifest bound to that platform's image}."""
    images = _images(index)
    found = {}
    for entry in index.get("manifests", []):
        annotations = entry.get("annotations") or {}
        subject = annotations.get("vnd.docker.reference.digest")
        if annotations.get("vnd.docker.reference.type") == "attestation-manifest" and subject in images:
            found[images[subject]] = entry["digest"]
    return found


def attestation_predicates(repository: str, index: Mapping[str, Any]) -> dict[str, set[str]]:
    """For each platform of `index`, the predicate types of the attestations bound to its image."""
    found: dict[str, set[str]] = {platform: set() for platform in _images(index).values()}
    for platform, digest in attestation_manifests(index).items():
        layers = read_document(ImageReference(repository).at(digest))["layers"]
        found[platform] = {(layer.get("annotations") or {}).get("in-toto.io/predicate-type", "") for layer in layers}
    return found


def _per_platform(value: Any, platforms: list[str]) -> dict[str, Any]:
    """imagetools keys a field by platform for an index of several platforms, not for one."""
    if len(platforms) == 1 and not (isinstance(value, dict) and platforms[0] in value):
        return {platforms[0]: value}
    return dict(value or {})


def sbom_packages(document: Mapping[str, Any]) -> dict[str, set[str]]:
    """The versions of each package an SPDX document lists, by normalized name."""
    packages: dict[str, set[str]] = {}
    for package in document.get("packages", []):
        packages.setdefault(normalize(package.get("name", "")), set()).add(package.get("versionInfo", ""))
    return packages


def check_sbom(platform: str, document: Mapping[str, Any] | None, expected: Mapping[str, str]) -> int:
    """The number of packages the SBOM lists, once it lists every expected one at its version."""
    if not document or document.get("spdxVersion") != "SPDX-2.3":
        raise AttestationError(f"{platform}: no SPDX 2.3 SBOM")
    listed = sbom_packages(document)
    wrong = [
        f"{name} {version}" for name, version in expected.items() if version not in listed.get(normalize(name), set())
    ]
    if wrong:
        raise AttestationError(f"{platform}: the SBOM does not list {', '.join(wrong)}")
    return len(document.get("packages", []))


def check_provenance(platform: str, provenance: Mapping[str, Any] | None) -> None:
    slsa = (provenance or {}).get("SLSA") or {}
    if slsa.get("buildType") != BUILDKIT_BUILD_TYPE:
        raise AttestationError(f"{platform}: no BuildKit provenance")
    if not (slsa.get("buildConfig") or {}).get("llbDefinition"):
        raise AttestationError(f"{platform}: the provenance is not max-mode (it has no build definition)")


def read_sboms(reference: str, platforms: list[str]) -> dict[str, Any]:
    """{platform: SPDX document} of the index `reference`, as imagetools reads them."""
    return {
        platform: (value or {}).get("SPDX")
        for platform, value in _per_platform(read_formatted(reference, "SBOM"), platforms).items()
    }


def read_provenances(reference: str, platforms: list[str]) -> dict[str, Any]:
    """{platform: provenance (its `SLSA` statement and more)} of `reference`, as imagetools reads them."""
    return _per_platform(read_formatted(reference, "Provenance"), platforms)


def verify_attestations(repository: str, digest: str, expected: Mapping[str, Mapping[str, str]]) -> dict[str, int]:
    """Checks the attestations of the index `repository@digest` for each platform of
    `expected` ({platform: {package: version}}); returns the SBOM's package count per platform
    and logs one line for each."""
    reference = str(ImageReference(repository).at(digest))
    platforms = sorted(expected)
    predicates = attestation_predicates(repository, read_document(reference))
    sboms = read_sboms(reference, platforms)
    provenances = read_provenances(reference, platforms)
    counts = {}
    for platform in platforms:
        missing = {SPDX_PREDICATE, PROVENANCE_PREDICATE} - predicates.get(platform, set())
        if missing:
            raise AttestationError(f"{reference} {platform}: no attestation of {', '.join(sorted(missing))}")
        counts[platform] = check_sbom(platform, sboms.get(platform), expected[platform])
        check_provenance(platform, provenances.get(platform))
        listed = ", ".join(f"{name} {version}" for name, version in expected[platform].items())
        say(
            f"attestations of {reference} {platform}: SBOM of {counts[platform]} packages ({listed}), "
            "max-mode provenance"
        )
    return counts
