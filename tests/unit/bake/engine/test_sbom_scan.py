"""The SBOM generator: what it finds in a root filesystem, and the SPDX it writes."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from spdx_tools.spdx.parser.parse_anything import parse_file
from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document

from bake.engine.sbom_scan.__main__ import SPDX_PREDICATE, created_at, main
from bake.engine.sbom_scan.dpkg import DebPackage, installed_packages, licence_names
from bake.engine.sbom_scan.interpreter import find_interpreter
from bake.engine.sbom_scan.licences import NOASSERTION, is_expression, python_licence
from bake.engine.sbom_scan.python_dists import installed_distributions
from bake.engine.sbom_scan.spdx import deb_package, scan

STATUS = """\
Package: libc6
Status: install ok installed
Architecture: amd64
Source: glibc
Version: 2.36-9+deb12u9
Description: GNU C Library
 continuation line

Package: python3.11-minimal
Status: install ok installed
Architecture: amd64
Source: python3.11
Version: 3.11.2-6+deb12u6

Package: removed-thing
Status: deinstall ok config-files
Architecture: amd64
Version: 1.0
"""
DEP5 = """\
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Files: *
License: LGPL-2.1+

Files: tests/*
License: GPL-2+
 The full text is in /usr/share/common-licenses/GPL-2.
"""
OLD_STYLE = """\
This is the Debian prepackaged version of the GNU C Library.
License: Redistribution and use in source and binary forms, with or without
On Debian systems, the complete text can be found in `/usr/share/common-licenses/LGPL-2.1'.
"""
SITE = "usr/local/lib/python3.11/site-packages"


def _write(root: Path, path: str, text: str) -> None:
    (root / path).parent.mkdir(parents=True, exist_ok=True)
    (root / path).write_text(text)


def _metadata(name: str, version: str, *headers: str) -> str:
    return "\n".join(["Metadata-Version: 2.4", f"Name: {name}", f"Version: {version}", *headers, "", "Body."])


@pytest.fixture
def rootfs(tmp_path: Path) -> Path:
    """A Debian root filesystem with a virtual environment in /usr/local, as the stand-ins have."""
    root = tmp_path / "rootfs"
    _write(root, "var/lib/dpkg/status", STATUS)
    _write(root, "var/lib/dpkg/info/python3.11-minimal.list", "/.\n/usr\n/usr/bin/python3.11\n")
    _write(root, "var/lib/dpkg/info/libc6:amd64.list", "/.\n/usr/lib/x86_64-linux-gnu/libc.so.6\n")
    _write(root, "usr/share/doc/libc6/copyright", OLD_STYLE)
    _write(root, "usr/share/doc/python3.11-minimal/copyright", DEP5)
    _write(root, "usr/lib/os-release", 'ID=debian\nVERSION_ID="12"\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n')
    (root / "etc").mkdir()
    (root / "etc/os-release").symlink_to("../usr/lib/os-release")
    _write(root, "usr/bin/python3.11", "")
    (root / "usr/local/bin").mkdir(parents=True)
    (root / "usr/local/bin/python").symlink_to("/usr/bin/python3.11")
    (root / "usr/local/bin/python3").symlink_to("python")
    _write(root, f"{SITE}/gunicorn-27.0.1.dist-info/METADATA", _metadata("gunicorn", "27.0.1", "License: MIT"))
    _write(
        root,
        f"{SITE}/uvicorn_worker-0.4.0.dist-info/METADATA",
        _metadata("uvicorn-worker", "0.4.0", "License-Expression: BSD-3-Clause"),
    )
    _write(root, f"{SITE}/Some_Thing-2.0.egg-info/PKG-INFO", _metadata("Some_Thing", "2.0", "License: see file"))
    _write(root, f"{SITE}/broken-1.0.dist-info/RECORD", "")
    return root


def _packages(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {package["name"]: package for package in document["packages"]}


def test_installed_debian_packages_with_their_licences(rootfs: Path) -> None:
    packages = {package.name: package for package in installed_packages(rootfs)}
    assert set(packages) == {"libc6", "python3.11-minimal"}, "a removed package is not installed"
    assert packages["libc6"].version == "2.36-9+deb12u9"
    assert packages["libc6"].licence_names == ("LGPL-2.1",), "prose after `License:` is no licence name"
    assert packages["python3.11-minimal"].licences == ("LGPL-2.1-or-later", "GPL-2.0-or-later")


def test_licence_fields_win_over_pointers_to_common_licences() -> None:
    assert licence_names(DEP5) == ("LGPL-2.1+", "GPL-2+")


def test_python_distributions_are_found_wherever_their_metadata_is(rootfs: Path) -> None:
    found = {dist.normalized_name: dist for dist in installed_distributions(rootfs)}
    assert set(found) == {"gunicorn", "uvicorn-worker", "some-thing"}, "a dist-info without METADATA is skipped"
    assert found["gunicorn"].licence == "MIT"
    assert found["uvicorn-worker"].licence == "BSD-3-Clause"
    assert found["some-thing"].licence == NOASSERTION
    assert str(found["gunicorn"].location) == f"/{SITE}/gunicorn-27.0.1.dist-info"


@pytest.mark.parametrize(
    ("expression", "licence", "classifiers", "expected"),
    [
        ("MIT OR Apache-2.0", None, [], "MIT OR Apache-2.0"),
        ("LicenseRef-Proprietary", "MIT", [], "MIT"),
        (None, "BSD", ["License :: OSI Approved :: MIT License"], "MIT"),
        (None, None, ["License :: OSI Approved :: MIT License", "License :: OSI Approved :: BSD License"], NOASSERTION),
        (None, "Some long licence text", [], NOASSERTION),
    ],
)
def test_python_licences(expression: str | None, licence: str | None, classifiers: list[str], expected: str) -> None:
    assert python_licence(expression, licence, classifiers) == expected


def test_licence_expressions_are_checked() -> None:
    assert is_expression("(MIT OR Apache-2.0) AND BSD-3-Clause")
    assert not is_expression("MIT OR")
    assert not is_expression("(MIT")
    assert not is_expression("see LICENSE file, or: ask us")


def test_an_interpreter_installed_by_dpkg_is_its_debian_package(rootfs: Path) -> None:
    interpreter = find_interpreter(rootfs)
    assert interpreter is not None
    assert (str(interpreter.path), interpreter.deb_package) == ("/usr/bin/python3.11", "python3.11-minimal")


def test_a_self_built_interpreter_is_read_from_its_headers_or_binary(tmp_path: Path) -> None:
    """The official images build CPython into /usr/local: no package manager knows it."""
    root = tmp_path / "official"
    _write(root, "usr/local/bin/python3.12", "")
    (root / "usr/local/bin/python3").symlink_to("python3.12")
    _write(root, "usr/local/include/python3.12/patchlevel.h", '#define PY_VERSION              "3.12.13"\n')
    interpreter = find_interpreter(root)
    assert interpreter is not None and (interpreter.deb_package, interpreter.version) == (None, "3.12.13")
    (root / "usr/local/include/python3.12/patchlevel.h").unlink()
    (root / "usr/local/lib").mkdir(parents=True)
    (root / "usr/local/lib/libpython3.12.so.1.0").write_bytes(b"\0x3.1.2\0" + b"3.12.13 (main, Oct  1 2026)\0")
    interpreter = find_interpreter(root)
    assert interpreter is not None and interpreter.version == "3.12.13"
    document = scan(root, "official")
    python = _packages(document)["python"]
    assert python["versionInfo"] == "3.12.13"
    assert python["externalRefs"] == [
        {
            "referenceCategory": "SECURITY",
            "referenceType": "cpe23Type",
            "referenceLocator": "cpe:2.3:a:python:python:3.12.13:*:*:*:*:*:*:*",
        },
        {
            "referenceCategory": "SECURITY",
            "referenceType": "cpe23Type",
            "referenceLocator": "cpe:2.3:a:python_software_foundation:python:3.12.13:*:*:*:*:*:*:*",
        },
        {
            "referenceCategory": "PACKAGE-MANAGER",
            "referenceType": "purl",
            "referenceLocator": "pkg:generic/python@3.12.13",
        },
    ]


def test_the_document_is_valid_spdx_2_3(rootfs: Path, tmp_path: Path) -> None:
    document = scan(rootfs, "sbom")
    path = tmp_path / "sbom.spdx.json"
    path.write_text(json.dumps(document))
    messages = [message.validation_message for message in validate_full_spdx_document(parse_file(str(path)))]
    assert messages == []
    packages = _packages(document)
    assert "python" not in packages, "a dpkg-installed interpreter is listed once, as its Debian package"
    libc = packages["libc6"]
    assert libc["versionInfo"] == "2.36-9+deb12u9"
    assert libc["licenseDeclared"] == "LGPL-2.1-only"
    assert libc["externalRefs"][0]["referenceLocator"] == (
        "pkg:deb/debian/libc6@2.36-9+deb12u9?arch=amd64&distro=debian-12&upstream=glibc"
    )
    assert packages["uvicorn-worker"]["externalRefs"][0]["referenceLocator"] == "pkg:pypi/uvicorn-worker@0.4.0"
    assert packages["debian"]["primaryPackagePurpose"] == "OPERATING-SYSTEM"
    described = [rel for rel in document["relationships"] if rel["relationshipType"] == "DESCRIBES"]
    assert len(described) == 1
    contained = {
        rel["relatedSpdxElement"] for rel in document["relationships"] if rel["relationshipType"] == "CONTAINS"
    }
    assert contained == {package["SPDXID"] for name, package in packages.items() if name != "sbom"}


def test_an_invalid_document_is_caught(rootfs: Path, tmp_path: Path) -> None:
    """The validation above can fail: a licence that is no SPDX expression, say."""
    document = scan(rootfs, "sbom")
    document["packages"][1]["licenseDeclared"] = "Not A Licence"
    path = tmp_path / "bad.spdx.json"
    path.write_text(json.dumps(document))
    assert validate_full_spdx_document(parse_file(str(path)))


def test_buildkit_protocol_writes_one_statement_per_filesystem(
    rootfs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "core" / "sbom"
    source.parent.mkdir()
    rootfs.rename(source)
    extras = tmp_path / "extras"
    (extras / "sbom-stage1").mkdir(parents=True)
    out = tmp_path / "out"
    out.mkdir()
    monkeypatch.setattr(
        os,
        "environ",
        {
            "BUILDKIT_SCAN_SOURCE": str(source),
            "BUILDKIT_SCAN_DESTINATION": str(out),
            "BUILDKIT_SCAN_SOURCE_EXTRAS": str(extras),
        },
    )
    assert main([]) == 0
    assert sorted(path.name for path in out.iterdir()) == ["sbom-stage1.spdx.json", "sbom.spdx.json"]
    statement = json.loads((out / "sbom.spdx.json").read_text())
    assert statement["predicateType"] == SPDX_PREDICATE
    assert statement["_type"] == "https://in-toto.io/Statement/v0.1"
    assert "gunicorn" in {package["name"] for package in statement["predicate"]["packages"]}


def test_without_the_protocol_it_scans_a_directory(rootfs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(rootfs), "mine"]) == 0
    assert json.loads(capsys.readouterr().out)["name"] == "mine"
    assert main(["/nonexistent"]) == 2


def test_a_source_package_of_another_version_is_named_with_it() -> None:
    """As syft writes it: `upstream=SOURCE@VERSION` where dpkg records `Source: SOURCE (VERSION)`."""
    package = DebPackage("libgcc-s1", "12.2.0-14", "amd64", "gcc-12", (), "12.2.0-14+deb12u1")
    locator = deb_package(package, "debian-12")["externalRefs"][0]["referenceLocator"]
    assert (
        locator
        == "pkg:deb/debian/libgcc-s1@12.2.0-14?arch=amd64&distro=debian-12&upstream=gcc-12%4012.2.0-14%2Bdeb12u1"
    )


def test_the_document_is_dated_by_the_builds_source_date_epoch() -> None:
    assert created_at({"SOURCE_DATE_EPOCH": "1796439090"}) == datetime(2026, 12, 5, 2, 51, 30, tzinfo=UTC)
    assert created_at({"SOURCE_DATE_EPOCH": ""}) is None
    assert created_at({}) is None
