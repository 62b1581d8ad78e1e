"""The SPDX 2.3 JSON document of a root filesystem: its operating system, Debian packages,
Python distributions and Python interpreter, each with a package URL where one exists."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from .dpkg import DebPackage, installed_packages
from .interpreter import Interpreter, find_interpreter
from .licences import NOASSERTION, all_of
from .python_dists import Distribution, installed_distributions
from .rootfs import inside, resolve

TOOL = "Tool: uvicorn-gunicorn-sbom-scan-1"
NAMESPACE_BASE = "https://spdx.org/spdxdocs/uvicorn-gunicorn-sbom-scan"
ROOT_ID = "SPDXRef-RootFilesystem"
INTERPRETER_NAME = "python"  # the package of an interpreter no package manager installed
_ID_UNSAFE = re.compile(r"[^A-Za-z0-9.-]+")


def spdx_id(kind: str, *parts: str) -> str:
    """A document-unique SPDXID: readable, with a digest of `parts` where names collide."""
    digest = hashlib.sha256("\0".join(parts).encode()).hexdigest()[:8]
    return f"SPDXRef-{kind}-{_ID_UNSAFE.sub('-', parts[0])}-{digest}"


def os_release(root: Path) -> dict[str, str]:
    path = resolve(root, "/etc/os-release")
    if path is None:
        return {}
    fields = {}
    for line in inside(root, path).read_text(errors="replace").splitlines():
        key, equals, value = line.partition("=")
        if equals:
            fields[key.strip()] = value.strip().strip("\"'")
    return fields


def _purl(kind: str, name: str, version: str, qualifiers: dict[str, str] | None = None) -> dict[str, str]:
    locator = f"pkg:{kind}/{name}@{quote(version, safe='.+-_~')}"
    if qualifiers:
        locator += "?" + "&".join(f"{key}={quote(value, safe='.-_~')}" for key, value in sorted(qualifiers.items()))
    return {"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl", "referenceLocator": locator}


def _package(spdxid: str, name: str, version: str | None, licence: str, **extra: Any) -> dict[str, Any]:
    package: dict[str, Any] = {
        "SPDXID": spdxid,
        "name": name,
        "downloadLocation": NOASSERTION,
        "filesAnalyzed": False,
        "licenseConcluded": NOASSERTION,
        "licenseDeclared": licence,
        "copyrightText": NOASSERTION,
    }
    if version:
        package["versionInfo"] = version
    return package | extra


def deb_package(package: DebPackage, distro: str | None) -> dict[str, Any]:
    mapped = package.licences
    known = [licence for licence in mapped if licence]
    extra: dict[str, Any] = {
        "externalRefs": [
            _purl(
                f"deb/{distro.split('-')[0]}" if distro else "deb",
                package.name,
                package.version,
                _deb_qualifiers(package, distro),
            )
        ]
    }
    if package.licence_names:
        extra["licenseComments"] = f"Debian copyright file names: {', '.join(package.licence_names)}"
    if package.source:
        extra["sourceInfo"] = f"built from Debian source package {package.source}"
    licence = all_of(known) if known and len(known) == len(mapped) else NOASSERTION
    return _package(
        spdx_id("deb", package.name, package.version, package.architecture),
        package.name,
        package.version,
        licence,
        **extra,
    )


def _deb_qualifiers(package: DebPackage, distro: str | None) -> dict[str, str]:
    """The qualifiers syft gives a Debian package's purl, which scanners match advisories by:
    `arch`, `distro` (debian-12) and `upstream`, the source package (`@version` where its
    version is another)."""
    qualifiers = {"arch": package.architecture} if package.architecture else {}
    if distro:
        qualifiers["distro"] = distro
    if package.source:
        qualifiers["upstream"] = "@".join(part for part in (package.source, package.source_version) if part)
    return qualifiers


# The CPEs of CPython in the National Vulnerability Database (vendor `python`) and as syft's
# binary classifier also names it (vendor `python_software_foundation`).
INTERPRETER_CPE_VENDORS = ("python", "python_software_foundation")


def _cpes(version: str) -> list[dict[str, str]]:
    return [
        {
            "referenceCategory": "SECURITY",
            "referenceType": "cpe23Type",
            "referenceLocator": ":".join(["cpe", "2.3", "a", vendor, "python", version, *"*" * 7]),
        }
        for vendor in INTERPRETER_CPE_VENDORS
    ]


def python_package(dist: Distribution) -> dict[str, Any]:
    return _package(
        spdx_id("python", dist.normalized_name, dist.version, str(dist.location)),
        dist.name,
        dist.version,
        dist.licence,
        externalRefs=[_purl("pypi", dist.normalized_name, dist.version)],
        sourceInfo=f"Python package metadata at {dist.location}",
    )


def interpreter_package(interpreter: Interpreter) -> dict[str, Any]:
    """The interpreter when no package manager installed it (the official images build CPython
    into /usr/local); one that dpkg installed is listed as its Debian package."""
    version = interpreter.version or NOASSERTION
    known = interpreter.version
    refs = [*_cpes(known), _purl("generic", INTERPRETER_NAME, known)] if known else []
    return _package(
        spdx_id("interpreter", INTERPRETER_NAME, version, str(interpreter.path)),
        INTERPRETER_NAME,
        interpreter.version,
        "Python-2.0",
        externalRefs=refs,
        primaryPackagePurpose="APPLICATION",
        sourceInfo=f"the Python interpreter at {interpreter.path}",
    )


def operating_system(release: dict[str, str]) -> dict[str, Any] | None:
    if "ID" not in release:
        return None
    return _package(
        spdx_id("os", release["ID"], release.get("VERSION_ID", "")),
        release["ID"],
        release.get("VERSION_ID"),
        NOASSERTION,
        primaryPackagePurpose="OPERATING-SYSTEM",
        description=release.get("PRETTY_NAME", release["ID"]),
    )


def scan(root: Path, name: str, created: datetime | None = None) -> dict[str, Any]:
    """The SPDX document of the root filesystem at `root`, named `name`."""
    release = os_release(root)
    distro = f"{release['ID']}-{release['VERSION_ID']}" if "ID" in release and "VERSION_ID" in release else None
    interpreter = find_interpreter(root)
    packages = [deb_package(package, distro) for package in installed_packages(root)]
    packages += [python_package(dist) for dist in installed_distributions(root)]
    if interpreter is not None and interpreter.deb_package is None:
        packages.append(interpreter_package(interpreter))
    system = operating_system(release)
    if system:
        packages.insert(0, system)
    root_package = _package(ROOT_ID, name, None, NOASSERTION, primaryPackagePurpose="CONTAINER")
    if interpreter is not None:
        owner = (
            f"Debian package {interpreter.deb_package}" if interpreter.deb_package else f"package {INTERPRETER_NAME}"
        )
        root_package["comment"] = f"Python interpreter: {interpreter.path} ({owner})"
    relationships = [
        {"spdxElementId": "SPDXRef-DOCUMENT", "relationshipType": "DESCRIBES", "relatedSpdxElement": ROOT_ID}
    ]
    relationships += [
        {"spdxElementId": ROOT_ID, "relationshipType": "CONTAINS", "relatedSpdxElement": package["SPDXID"]}
        for package in packages
    ]
    content = hashlib.sha256(repr(sorted(package["SPDXID"] for package in packages)).encode()).hexdigest()
    return {
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": name,
        "documentNamespace": f"{NAMESPACE_BASE}/{_ID_UNSAFE.sub('-', name)}-{content}",
        "creationInfo": {
            "created": (created or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "creators": [TOOL],
        },
        "packages": [root_package, *packages],
        "relationships": relationships,
    }
