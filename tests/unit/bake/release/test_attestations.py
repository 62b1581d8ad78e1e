"""The checks of an index's attestations, on documents as imagetools reads them."""

from __future__ import annotations

from typing import Any

import pytest

from bake.release.attestations import AttestationError, attestation_manifests, check_provenance, check_sbom

PLATFORM = "linux/arm64"
SBOM = {
    "spdxVersion": "SPDX-2.3",
    "packages": [
        {"name": "gunicorn", "versionInfo": "27.0.1"},
        {"name": "uvicorn_worker", "versionInfo": "0.4.0"},
        {"name": "python3.11-minimal", "versionInfo": "3.11.2-6+deb12u6"},
    ],
}
EXPECTED = {"gunicorn": "27.0.1", "uvicorn-worker": "0.4.0", "python3.11-minimal": "3.11.2-6+deb12u6"}


def test_an_sbom_listing_every_package_at_its_version_passes() -> None:
    assert check_sbom(PLATFORM, SBOM, EXPECTED) == 3


@pytest.mark.parametrize(
    ("expected", "message"),
    [
        ({**EXPECTED, "gunicorn": "26.0.0"}, "does not list gunicorn 26.0.0"),
        ({**EXPECTED, "uvicorn": "0.54.0"}, "does not list uvicorn 0.54.0"),
    ],
)
def test_a_missing_package_or_another_version_fails(expected: dict[str, str], message: str) -> None:
    with pytest.raises(AttestationError, match=f"^{PLATFORM}: the SBOM {message}$"):
        check_sbom(PLATFORM, SBOM, expected)


@pytest.mark.parametrize("document", [None, {}, {**SBOM, "spdxVersion": "SPDX-2.2"}])
def test_no_spdx_2_3_document_fails(document: dict[str, Any] | None) -> None:
    with pytest.raises(AttestationError, match=r"no SPDX 2\.3 SBOM"):
        check_sbom(PLATFORM, document, EXPECTED)


def test_provenance_must_be_buildkits_in_max_mode() -> None:
    max_mode = {"SLSA": {"buildType": "https://mobyproject.org/buildkit@v1", "buildConfig": {"llbDefinition": [{}]}}}
    check_provenance(PLATFORM, max_mode)
    with pytest.raises(AttestationError, match="not max-mode"):
        check_provenance(PLATFORM, {"SLSA": {"buildType": "https://mobyproject.org/buildkit@v1"}})
    with pytest.raises(AttestationError, match="no BuildKit provenance"):
        check_provenance(PLATFORM, None)


def test_attestation_manifests_are_found_by_the_image_they_describe() -> None:
    image, attestation = "sha256:" + "1" * 64, "sha256:" + "2" * 64
    index = {
        "manifests": [
            {"digest": image, "platform": {"os": "linux", "architecture": "arm64"}},
            {
                "digest": attestation,
                "platform": {"os": "unknown", "architecture": "unknown"},
                "annotations": {
                    "vnd.docker.reference.digest": image,
                    "vnd.docker.reference.type": "attestation-manifest",
                },
            },
            {
                "digest": "sha256:" + "3" * 64,
                "platform": {"os": "unknown", "architecture": "unknown"},
                "annotations": {"vnd.docker.reference.digest": "sha256:" + "9" * 64},
            },
        ]
    }
    assert attestation_manifests(index) == {PLATFORM: attestation}


# As docker/buildkit-syft-scanner writes an official image's SBOM: the image as a root
# package, CPython found by syft's binary classifier as `python`, each distribution under the
# name its metadata gives (one found twice, by two catalogers), Debian packages with syft's
# purl qualifiers.
SYFT_SBOM = {
    "spdxVersion": "SPDX-2.3",
    "creationInfo": {"creators": ["Organization: Anchore, Inc", "Tool: syft-v1.x"]},
    "packages": [
        {"name": "/run/src/core/sbom", "SPDXID": "SPDXRef-DocumentRoot-Directory-run-src-core-sbom"},
        {
            "name": "python",
            "versionInfo": "3.11.14",
            "externalRefs": [
                {"referenceType": "cpe23Type", "referenceLocator": "cpe:2.3:a:python:python:3.11.14:*:*:*:*:*:*:*"},
                {"referenceType": "purl", "referenceLocator": "pkg:generic/python@3.11.14"},
            ],
        },
        {"name": "gunicorn", "versionInfo": "27.0.1"},
        {"name": "gunicorn", "versionInfo": "27.0.1"},
        {"name": "uvicorn", "versionInfo": "0.54.0"},
        {"name": "uvicorn-worker", "versionInfo": "0.4.0"},
        {
            "name": "libc6",
            "versionInfo": "2.36-9+deb12u13",
            "externalRefs": [
                {
                    "referenceType": "purl",
                    "referenceLocator": (
                        "pkg:deb/debian/libc6@2.36-9+deb12u13?arch=amd64&upstream=glibc&distro=debian-12"
                    ),
                }
            ],
        },
    ],
}


def test_an_sbom_of_buildkits_standard_generator_passes_the_same_check() -> None:
    expected = {"python": "3.11.14", "gunicorn": "27.0.1", "uvicorn": "0.54.0", "uvicorn-worker": "0.4.0"}
    assert check_sbom(PLATFORM, SYFT_SBOM, expected) == len(SYFT_SBOM["packages"])
    with pytest.raises(AttestationError, match=r"does not list python 3\.11\.15"):
        check_sbom(PLATFORM, SYFT_SBOM, {**expected, "python": "3.11.15"})
