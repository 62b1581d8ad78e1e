from __future__ import annotations

from pathlib import Path

import pytest

from bake.debian_sources import MirrorError, Mirrors, archive_source, configured_mirrors, find_mirrors, host_sources

DEB822 = """\
Types: deb
URIs: http://archive.example/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://security.example/debian-security
Suites: bookworm-security
Components: main
"""


def _apt_dir(tmp_path: Path, files: dict[str, str]) -> Path:
    (tmp_path / "sources.list.d").mkdir()
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    return tmp_path


def test_deb822_archive_and_security(tmp_path: Path) -> None:
    apt = _apt_dir(tmp_path, {"sources.list.d/debian.sources": DEB822})
    assert find_mirrors(host_sources(apt)) == Mirrors(
        "http://archive.example/debian", "http://security.example/debian-security"
    )


def test_one_line_format_with_options(tmp_path: Path) -> None:
    apt = _apt_dir(tmp_path, {"sources.list": "# comment\ndeb [arch=amd64] http://one.example/debian bookworm main\n"})
    assert find_mirrors(host_sources(apt)) == Mirrors("http://one.example/debian", None)


def test_the_projects_own_suite_is_never_taken_for_the_hosts(tmp_path: Path) -> None:
    apt = _apt_dir(
        tmp_path,
        {
            "sources.list.d/uvicorn-gunicorn-trixie.sources": (
                "Types: deb\nURIs: http://added.example/debian\nSuites: trixie\n"
            ),
            "sources.list.d/debian.sources": DEB822,
        },
    )
    assert find_mirrors(host_sources(apt)).archive == "http://archive.example/debian"


def test_disabled_and_source_only_entries_are_ignored(tmp_path: Path) -> None:
    text = "Types: deb-src\nURIs: http://src.example/debian\nSuites: bookworm\n\n" + (
        "Types: deb\nURIs: http://off.example/debian\nSuites: bookworm\nEnabled: no\n"
    )
    apt = _apt_dir(tmp_path, {"sources.list.d/x.sources": text})
    with pytest.raises(MirrorError, match="set DEBIAN_MIRROR"):
        find_mirrors(host_sources(apt))


def test_explicit_mirror_wins(tmp_path: Path) -> None:
    apt = _apt_dir(tmp_path, {"sources.list.d/debian.sources": DEB822})
    assert configured_mirrors({"DEBIAN_MIRROR": "http://mine.example/debian"}, apt) == Mirrors(
        "http://mine.example/debian", None
    )
    assert configured_mirrors({}, apt).archive == "http://archive.example/debian"


def test_engine_suite_stanza_copies_the_hosts_archive(tmp_path: Path) -> None:
    apt = _apt_dir(tmp_path, {"sources.list.d/debian.sources": DEB822})
    assert archive_source(host_sources(apt), "trixie") == (
        "Types: deb\nURIs: http://archive.example/debian\nSuites: trixie\nComponents: main\n"
        "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n"
    )
