from __future__ import annotations

from pathlib import Path

import pytest

from bake.core.debian_sources import (
    AptHost,
    MirrorError,
    Mirrors,
    Role,
    archive_source,
    configured_mirrors,
    find_mirrors,
    host_sources,
    main,
)

DEBIAN_OS = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_CODENAME=bookworm\n'
UBUNTU_OS = 'NAME="Ubuntu"\nID=ubuntu\nID_LIKE=debian\nVERSION_CODENAME=jammy\n'
DEBIAN_KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"

DEB822 = f"""\
Types: deb
URIs: http://archive.example/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: {DEBIAN_KEYRING}

Types: deb
URIs: http://security.example/debian-security
Suites: bookworm-security
Components: main
Signed-By: {DEBIAN_KEYRING}
"""
ARCHIVE_AND_SECURITY = Mirrors("http://archive.example/debian", "http://security.example/debian-security")

# What the Debian installer writes: one-line entries only, with deb-src twins and comments.
INSTALLER_SOURCES_LIST = """\
#deb cdrom:[Debian GNU/Linux 12.0.0 _Bookworm_ - Official amd64 NETINST]/ bookworm main

deb http://archive.example/debian/ bookworm main non-free-firmware
deb-src http://archive.example/debian/ bookworm main non-free-firmware

deb http://security.example/debian-security bookworm-security main non-free-firmware  # security
deb-src http://security.example/debian-security bookworm-security main non-free-firmware

# bookworm-updates, to get updates before a point release is made;
deb http://archive.example/debian/ bookworm-updates main non-free-firmware
"""

INLINE_KEY = """\

 -----BEGIN PGP PUBLIC KEY BLOCK-----
 .
 mDMEZxyzFgkrBgEEAdpHDwEBB0Bexample
 =abcd
 -----END PGP PUBLIC KEY BLOCK-----"""


def _release(origin: str, label: str, suite: str, extra: str = "") -> str:
    """A clearsigned Release file as apt keeps it: the armor header, the fields, then checksum lists."""
    return (
        "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\n"
        f"Origin: {origin}\nLabel: {label}\nSuite: {suite}\nCodename: {suite}\n{extra}Components: main\n"
        "SHA256:\n 0123abcd 42 main/binary-amd64/Packages\n"
        "-----BEGIN PGP SIGNATURE-----\n\nc2lnbmF0dXJl\n-----END PGP SIGNATURE-----\n"
    )


DEBIAN_RELEASES = {
    "archive.example_debian_dists_bookworm_InRelease": _release("Debian", "Debian", "bookworm"),
    "archive.example_debian_dists_bookworm-updates_InRelease": _release("Debian", "Debian", "bookworm-updates"),
    "security.example_debian-security_dists_bookworm-security_InRelease": _release(
        "Debian", "Debian-Security", "bookworm-security"
    ),
}


def _host(
    tmp_path: Path,
    sources: dict[str, str],
    releases: dict[str, str] | None = None,
    os_release: str = DEBIAN_OS,
) -> AptHost:
    """A fake host: `sources` by path under /etc/apt, `releases` by name in apt's lists directory."""
    host = AptHost(tmp_path / "etc", tmp_path / "lists", tmp_path / "os-release", tmp_path / "keyring.gpg")
    (host.etc / "sources.list.d").mkdir(parents=True)
    host.lists.mkdir()
    host.os_release.write_text(os_release)
    for name, text in sources.items():
        (host.etc / name).write_text(text)
    for name, text in (releases or {}).items():
        (host.lists / name).write_text(text)
    return host


def test_deb822_archive_and_security(tmp_path: Path) -> None:
    host = _host(tmp_path, {"sources.list.d/debian.sources": DEB822})
    assert find_mirrors(host_sources(host)) == ARCHIVE_AND_SECURITY


def test_deb822_archive_and_security_by_apts_release_files(tmp_path: Path) -> None:
    host = _host(tmp_path, {"sources.list.d/debian.sources": DEB822}, DEBIAN_RELEASES)
    roles = {(s.suite, s.role, s.doubt) for s in host_sources(host)}
    assert roles == {
        ("bookworm", Role.ARCHIVE, 0),
        ("bookworm-updates", Role.OTHER, 0),
        ("bookworm-security", Role.SECURITY, 0),
    }
    assert find_mirrors(host_sources(host)) == ARCHIVE_AND_SECURITY


def test_a_host_with_only_the_installers_sources_list(tmp_path: Path) -> None:
    host = _host(tmp_path, {"sources.list": INSTALLER_SOURCES_LIST})
    assert find_mirrors(host_sources(host)) == Mirrors(
        "http://archive.example/debian/", "http://security.example/debian-security"
    )
    assert archive_source(host_sources(host), "trixie") == (
        "Types: deb\nURIs: http://archive.example/debian/\nSuites: trixie\nComponents: main\n"
    )


@pytest.mark.parametrize(
    ("options", "signed_by"),
    [
        ("[arch=amd64]", None),
        ("[arch=amd64 signed-by=/usr/share/keyrings/x.gpg]", "/usr/share/keyrings/x.gpg"),
        ("[arch=amd64 signed-by=/usr/share/keyrings/x.gpg trusted=yes]", "/usr/share/keyrings/x.gpg"),
        ("[ arch=amd64,arm64 signed-by=/usr/share/keyrings/x.gpg ]", "/usr/share/keyrings/x.gpg"),
        (
            "[lang=en,de arch=amd64,arm64 signed-by=/etc/apt/keyrings/a.gpg,/etc/apt/keyrings/b.gpg pdiffs=no]",
            ("/etc/apt/keyrings/a.gpg,/etc/apt/keyrings/b.gpg"),
        ),
    ],
)
def test_one_line_entries_with_options(tmp_path: Path, options: str, signed_by: str | None) -> None:
    line = f"deb {options} http://one.example/debian bookworm main contrib # trailing comment\n"
    host = _host(tmp_path, {"sources.list": "# comment\n" + line})
    [source] = host_sources(host)
    assert (source.uri, source.suite, source.components, source.signed_by) == (
        "http://one.example/debian",
        "bookworm",
        ("main", "contrib"),
        signed_by,
    )
    assert find_mirrors([source]) == Mirrors("http://one.example/debian", None)
    signed_by_line = f"Signed-By: {signed_by}\n" if signed_by else ""
    assert archive_source([source], "trixie").endswith(f"Components: main\n{signed_by_line}")


def test_third_party_sources_listed_before_debians_are_not_its_archive(tmp_path: Path) -> None:
    sources = {
        "sources.list.d/a-nodesource.sources": (
            "Types: deb\nURIs: http://node.example/node_20.x\nSuites: nodistro\nComponents: main\n"
            "Signed-By: /usr/share/keyrings/nodesource.gpg\n"
        ),
        "sources.list.d/b-browser.list": (
            "deb [arch=amd64 signed-by=/usr/share/keyrings/browser.gpg] http://browser.example/deb/ stable main\n"
        ),
        "sources.list.d/c-cloud.list": "deb http://cloud.example/apt cloud-sdk-bookworm main\n",
        "sources.list.d/c-engine.list": "deb http://engine.example/linux/debian bookworm stable\n",
        "sources.list.d/debian.sources": DEB822,
    }
    host = _host(tmp_path, sources)
    assert find_mirrors(host_sources(host)) == ARCHIVE_AND_SECURITY
    assert "URIs: http://archive.example/debian\n" in archive_source(host_sources(host), "trixie")


def test_apts_release_files_tell_debian_from_a_look_alike(tmp_path: Path) -> None:
    # Same suite, same component, no key of its own: only what the repository serves tells them apart.
    sources = {
        "sources.list": "deb http://vendor.example/debian bookworm main\n",
        "sources.list.d/debian.list": "deb http://archive.example/debian bookworm main\n",
    }
    releases = {
        "vendor.example_debian_dists_bookworm_InRelease": _release("Example Corp", "Example", "bookworm"),
        **DEBIAN_RELEASES,
    }
    host = _host(tmp_path, sources, releases)
    assert find_mirrors(host_sources(host)).archive == "http://archive.example/debian"


def test_a_release_file_outranks_a_guess_from_names(tmp_path: Path) -> None:
    sources = {
        "sources.list": "deb http://vendor.example/debian bookworm main\n",
        "sources.list.d/debian.list": "deb http://archive.example/debian stable main\n",
    }
    releases = {"archive.example_debian_dists_stable_InRelease": _release("Debian", "Debian", "stable")}
    host = _host(tmp_path, sources, releases)
    assert find_mirrors(host_sources(host)).archive == "http://archive.example/debian"


def test_a_release_file_saying_another_origin_is_believed(tmp_path: Path) -> None:
    sources = {"sources.list": "deb http://mirror.example/debian bookworm main\n"}
    releases = {"mirror.example_debian_dists_bookworm_InRelease": _release("Example Corp", "Example", "bookworm")}
    with pytest.raises(MirrorError, match="set DEBIAN_MIRROR"):
        find_mirrors(host_sources(_host(tmp_path, sources, releases)))


@pytest.mark.parametrize(
    ("uri", "file_name"),
    [
        ("http://archive.example/debian/", "archive.example_debian_dists_bookworm_InRelease"),
        ("https://user:secret@archive.example:8080/debian", "archive.example:8080_debian_dists_bookworm_Release"),
        ("http://archive.example/pub_debian", "archive.example_pub%5fdebian_dists_bookworm_InRelease"),
        ("file:///srv/debian", "_srv_debian_dists_bookworm_InRelease"),
    ],
)
def test_release_files_are_found_under_apts_own_names(tmp_path: Path, uri: str, file_name: str) -> None:
    host = _host(
        tmp_path, {"sources.list": f"deb {uri} bookworm main\n"}, {file_name: _release("Debian", "Debian", "x")}
    )
    [source] = host_sources(host)
    assert (source.role, source.doubt) == (Role.ARCHIVE, 0)


def test_a_plain_unsigned_release_file_is_read_too(tmp_path: Path) -> None:
    release = "Origin: Debian\nLabel: Debian-Security\nSuite: stable-security\nSHA256:\n 00 1 main/Packages\n"
    sources = {"sources.list": INSTALLER_SOURCES_LIST}
    releases = {"security.example_debian-security_dists_bookworm-security_Release": release}
    [security] = [s for s in host_sources(_host(tmp_path, sources, releases)) if s.role is Role.SECURITY]
    assert (security.uri, security.doubt) == ("http://security.example/debian-security", 0)


def test_pockets_are_never_the_archive(tmp_path: Path) -> None:
    sources = {
        "sources.list": (
            "deb http://archive.example/debian bookworm-updates main\n"
            "deb http://archive.example/debian bookworm-backports main\n"
            "deb http://archive.example/debian experimental main\n"
            "deb http://security.example/debian-security bookworm-security main\n"
        )
    }
    releases = {
        "archive.example_debian_dists_bookworm-backports_InRelease": _release(
            "Debian Backports", "Debian Backports", "bookworm-backports"
        ),
        "archive.example_debian_dists_experimental_InRelease": _release(
            "Debian", "Debian", "experimental", "NotAutomatic: yes\n"
        ),
        **DEBIAN_RELEASES,
    }
    for with_releases in (None, releases):
        host_dir = tmp_path / str(bool(with_releases))
        with pytest.raises(MirrorError, match="set DEBIAN_MIRROR"):
            find_mirrors(host_sources(_host(host_dir, sources, with_releases)))


def test_a_security_source_is_found_by_its_suite_before_any_download(tmp_path: Path) -> None:
    sources = {
        "sources.list": (
            "deb http://archive.example/debian bookworm main\n"
            "deb http://vendor.example/apt nodistro-security main\n"
            "deb http://security.example/debian-security bookworm-security main\n"
        )
    }
    assert find_mirrors(host_sources(_host(tmp_path, sources))) == Mirrors(
        "http://archive.example/debian", "http://security.example/debian-security"
    )


def test_no_security_source_is_none(tmp_path: Path) -> None:
    host = _host(tmp_path, {"sources.list": "deb http://archive.example/debian bookworm main\n"})
    assert find_mirrors(host_sources(host)) == Mirrors("http://archive.example/debian", None)


def test_deb822_syntax(tmp_path: Path) -> None:
    text = (
        "# Debian's archive\n"
        "types: deb-src deb\n"
        "URIS: http://archive.example/debian\n"
        "# a comment inside the paragraph\n"
        "suites:\n bookworm\n bookworm-updates\n"
        "COMPONENTS: main contrib\n"
        "signed-by: /usr/share/keyrings/debian-archive-keyring.gpg\n"
        "   \n"
        "Types: deb\nURIs: http://off.example/debian\nSuites: bookworm\nComponents: main\nEnabled: No\n"
        "\t\n"
        "Types: deb-src\nURIs: http://src.example/debian\nSuites: bookworm\nComponents: main\n"
    )
    sources = host_sources(_host(tmp_path, {"sources.list.d/debian.sources": text}))
    assert [(s.uri, s.suite, s.components, s.signed_by) for s in sources] == [
        ("http://archive.example/debian", suite, ("main", "contrib"), DEBIAN_KEYRING)
        for suite in ("bookworm", "bookworm-updates")
    ]


def test_disabled_and_source_only_entries_are_ignored(tmp_path: Path) -> None:
    deb822 = "Types: deb-src\nURIs: http://src.example/debian\nSuites: bookworm\nComponents: main\n\n" + (
        "Types: deb\nURIs: http://off.example/debian\nSuites: bookworm\nComponents: main\nEnabled: no\n"
    )
    one_line = "deb-src http://src.example/debian bookworm main\n# deb http://off.example/debian bookworm main\n"
    host = _host(tmp_path, {"sources.list.d/x.sources": deb822, "sources.list": one_line})
    assert host_sources(host) == []
    with pytest.raises(MirrorError, match="set DEBIAN_MIRROR"):
        find_mirrors(host_sources(host))


def test_signed_by_is_kept_in_the_stanza_for_both_formats(tmp_path: Path) -> None:
    deb822 = _host(tmp_path / "deb822", {"sources.list.d/debian.sources": DEB822})
    one_line = _host(
        tmp_path / "one-line",
        {"sources.list": f"deb [signed-by={DEBIAN_KEYRING}] http://archive.example/debian bookworm main\n"},
    )
    for host in (deb822, one_line):
        assert archive_source(host_sources(host), "trixie") == (
            "Types: deb\nURIs: http://archive.example/debian\nSuites: trixie\nComponents: main\n"
            f"Signed-By: {DEBIAN_KEYRING}\n"
        )


def test_an_inline_signed_by_key_is_copied_whole(tmp_path: Path) -> None:
    text = (
        f"Types: deb\nURIs: http://archive.example/debian\nSuites: bookworm\nComponents: main\nSigned-By:{INLINE_KEY}\n"
    )
    stanza = archive_source(host_sources(_host(tmp_path, {"sources.list.d/debian.sources": text})), "trixie")
    assert stanza == (
        f"Types: deb\nURIs: http://archive.example/debian\nSuites: trixie\nComponents: main\nSigned-By:{INLINE_KEY}\n"
    )
    # What setup-host.sh writes reads back as the same entry.
    [copy] = host_sources(_host(tmp_path / "copy", {"sources.list.d/copy.sources": stanza}))
    assert (copy.uri, copy.suite, copy.signed_by, copy.role) == (
        "http://archive.example/debian",
        "trixie",
        INLINE_KEY,
        Role.ARCHIVE,
    )


def test_the_projects_own_suite_is_never_taken_for_the_hosts(tmp_path: Path) -> None:
    sources = {
        "sources.list.d/uvicorn-gunicorn-trixie.sources": (
            "Types: deb\nURIs: http://added.example/debian\nSuites: trixie\nComponents: main\n"
        ),
        "sources.list.d/debian.sources": DEB822,
    }
    releases = {"added.example_debian_dists_trixie_InRelease": _release("Debian", "Debian", "trixie")}
    sources_seen = host_sources(_host(tmp_path, sources, releases))
    assert "http://added.example/debian" not in {s.uri for s in sources_seen}
    assert find_mirrors(sources_seen).archive == "http://archive.example/debian"


def test_the_hosts_own_codename_counts_only_on_debian(tmp_path: Path) -> None:
    sources = {"sources.list": "deb http://archive.example/debian newname main\n"}
    newer = _host(tmp_path / "debian", sources, os_release="ID=debian\nVERSION_CODENAME=newname\n")
    assert find_mirrors(host_sources(newer)).archive == "http://archive.example/debian"
    other = _host(tmp_path / "other", sources, os_release="ID=other\nVERSION_CODENAME=newname\n")
    with pytest.raises(MirrorError):
        find_mirrors(host_sources(other))


@pytest.mark.parametrize("downloaded", [False, True])
def test_an_ubuntu_host_is_told_to_set_debian_mirror(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], downloaded: bool
) -> None:
    sources = {
        "sources.list": (
            "deb http://ubuntu.example/ubuntu jammy main restricted\n"
            "deb http://ubuntu.example/ubuntu jammy-updates main restricted\n"
            "deb http://ubuntu.example/ubuntu jammy-security main restricted\n"
        )
    }
    releases = {"ubuntu.example_ubuntu_dists_jammy_InRelease": _release("Ubuntu", "Ubuntu", "jammy")}
    host = _host(tmp_path, sources, releases if downloaded else None, UBUNTU_OS)
    assert main(["trixie"], {}, host) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1
    assert "set DEBIAN_MIRROR" in err


def test_main_prints_the_stanza(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    host = _host(tmp_path, {"sources.list.d/debian.sources": DEB822}, DEBIAN_RELEASES)
    assert main(["trixie"], {}, host) == 0
    assert capsys.readouterr() == (archive_source(host_sources(host), "trixie"), "")


def test_main_takes_debian_mirror_with_the_debian_keyring_when_present(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    host = _host(tmp_path, {}, os_release=UBUNTU_OS)
    stanza = "Types: deb\nURIs: http://mine.example/debian\nSuites: trixie\nComponents: main\n"
    assert main(["trixie"], {"DEBIAN_MIRROR": "http://mine.example/debian"}, host) == 0
    assert capsys.readouterr().out == stanza
    host.debian_keyring.write_bytes(b"")
    assert main(["trixie"], {"DEBIAN_MIRROR": "http://mine.example/debian"}, host) == 0
    assert capsys.readouterr().out == f"{stanza}Signed-By: {host.debian_keyring}\n"


def test_explicit_mirror_wins(tmp_path: Path) -> None:
    host = _host(tmp_path, {"sources.list.d/debian.sources": DEB822})
    explicit = {"DEBIAN_MIRROR": "http://mine.example/debian", "DEBIAN_SECURITY_MIRROR": "http://sec.example/ds"}
    assert configured_mirrors(explicit, host) == Mirrors("http://mine.example/debian", "http://sec.example/ds")
    assert configured_mirrors({"DEBIAN_MIRROR": "http://mine.example/debian"}, host) == Mirrors(
        "http://mine.example/debian", None
    )
    assert configured_mirrors({}, host) == ARCHIVE_AND_SECURITY


def test_a_mirror_list_is_resolved_for_stand_ins_but_kept_for_the_host(tmp_path: Path) -> None:
    mirrors = tmp_path / "mirrors"
    mirrors.mkdir()
    (mirrors / "debian.list").write_text("# nearest first\nhttp://archive.example/debian\tpriority:1\n")
    uri = f"mirror+file://{mirrors}/debian.list"
    text = f"Types: deb\nURIs: {uri}\nSuites: bookworm\nComponents: main\n"
    host = _host(tmp_path, {"sources.list.d/debian.sources": text})
    assert configured_mirrors({}, host) == Mirrors("http://archive.example/debian", None)
    assert f"URIs: {uri}\n" in archive_source(host_sources(host), "trixie")
    (mirrors / "debian.list").unlink()
    with pytest.raises(MirrorError, match=r"^the host's Debian mirror list .* set DEBIAN_MIRROR"):
        configured_mirrors({}, host)
