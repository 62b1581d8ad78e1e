"""The Debian mirrors this host already uses, read from its apt configuration.

No mirror name is ever written in the repository: stand-in bases and the engine's
extra suite are fetched from wherever the host's own apt sources point.

Debian's own entries are told apart from any other repository by what apt downloaded
from them (the `Origin:` and `Label:` of their Release file); before the host's first
`apt-get update` they are guessed from their suite and signing key instead.
"""

from __future__ import annotations

import argparse
import dataclasses
import enum
import os
import re
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from bake.errors import BakeError, reporting_errors

# Files this project adds to the host itself; they are never read back as the host's choice.
PROJECT_SOURCE_PREFIX = "uvicorn-gunicorn-"
_ALIASES = frozenset({"stable", "testing", "unstable", "oldstable", "oldoldstable"})
DEBIAN_RELEASES = _ALIASES | {
    *("hamm", "slink", "potato", "woody", "sarge", "etch", "lenny", "squeeze", "wheezy", "jessie"),
    *("stretch", "buster", "bullseye", "bookworm", "trixie", "forky", "duke", "sid"),
}
_FALSE = frozenset({"no", "false", "off", "without", "disable", "0"})
# Characters apt escapes (as %xx) when it names a downloaded file after its URI.
_ESCAPED_IN_LIST_NAMES = set(b'\\|{}[]<>"^~_=!@#$%&*')
_ONE_LINE = re.compile(r"\s*deb\s+(?:\[(?P<options>[^\]]*)\]\s*)?(?P<uri>\S+)\s+(?P<suite>\S+)(?P<components>.*)")


class MirrorError(BakeError):
    """No usable Debian mirror was found."""


@dataclass(frozen=True)
class AptHost:
    """Where a host keeps its apt sources, apt's downloaded metadata and its own release name."""

    etc: Path = Path("/etc/apt")
    lists: Path = Path("/var/lib/apt/lists")
    os_release: Path = Path("/etc/os-release")
    debian_keyring: Path = Path("/usr/share/keyrings/debian-archive-keyring.gpg")


HOST = AptHost()


class Role(enum.Enum):
    ARCHIVE = "archive"
    SECURITY = "security"
    OTHER = "other"


@dataclass(frozen=True)
class Source:
    """One suite of one URI of an enabled `deb` entry, and what it is to the host's knowledge."""

    uri: str
    suite: str
    components: tuple[str, ...] = ("main",)
    # A deb822 inline key keeps its continuation lines (each starting with a space) after a newline.
    signed_by: str | None = None
    role: Role = Role.OTHER
    # 0: apt's downloaded Release file says so; above 0: guessed from names, the higher the less sure.
    doubt: int = 0


@dataclass(frozen=True)
class Mirrors:
    archive: str
    security: str | None


def _stanzas(text: str) -> Iterator[dict[str, str]]:
    """deb822 paragraphs as {lower-case field name: value}; a folded value keeps its newlines."""
    fields: dict[str, str] = {}
    key: str | None = None
    for line in [*text.splitlines(), ""]:
        if not line.strip():
            if fields:
                yield fields
            fields, key = {}, None
        elif line.startswith("#"):
            continue
        elif line[0] in " \t":
            if key is not None:
                fields[key] += "\n" + line.rstrip()
        elif ":" in line:
            name, value = line.split(":", 1)
            key = name.strip().lower()
            fields[key] = value.strip()


def _deb822_sources(text: str) -> Iterator[Source]:
    for fields in _stanzas(text):
        if "deb" not in fields.get("types", "").split() or fields.get("enabled", "").strip().lower() in _FALSE:
            continue
        components = tuple(fields.get("components", "").split())
        for uri in fields.get("uris", "").split():
            for suite in fields.get("suites", "").split():
                yield Source(uri, suite, components, fields.get("signed-by") or None)


def _key_values(words: Iterable[str]) -> dict[str, str]:
    pairs = (word.partition("=") for word in words)
    return {key.strip(): value.strip() for key, _, value in pairs}


def _one_line_sources(text: str) -> Iterator[Source]:
    for line in text.splitlines():
        match = _ONE_LINE.fullmatch(line.split("#", 1)[0])
        if match is None:
            continue
        options = _key_values((match["options"] or "").split())
        components = tuple(match["components"].split())
        yield Source(match["uri"], match["suite"], components, options.get("signed-by") or None)


def _source_files(etc: Path) -> list[Path]:
    """In apt's order: sources.list, then sources.list.d by name; never this project's own files."""
    listed = sorted(path for path in (etc / "sources.list.d").glob("*") if path.suffix in (".list", ".sources"))
    return [path for path in [etc / "sources.list", *listed] if not path.name.startswith(PROJECT_SOURCE_PREFIX)]


def _parsed_sources(etc: Path) -> Iterator[Source]:
    for path in _source_files(etc):
        try:
            text = path.read_text(errors="replace")
        except OSError:
            continue
        yield from (_deb822_sources if path.suffix == ".sources" else _one_line_sources)(text)


def _list_name(uri: str, suite: str, file: str) -> str:
    """apt's name in its lists directory for `file` of `suite` at `uri` (URItoFileName)."""
    rest = re.sub(r"^[A-Za-z][A-Za-z0-9+.-]*:", "", uri)
    if rest.startswith("//"):
        authority, _, path = rest[2:].partition("/")
        rest = authority.rpartition("@")[2] + "/" + path
    rest = rest.rstrip("/") + "/"
    rest += f"{suite}{file}" if suite.endswith("/") else f"dists/{suite}/{file}"
    quoted = "".join(
        f"%{byte:02x}" if byte in _ESCAPED_IN_LIST_NAMES or not 0x20 < byte < 0x7F else chr(byte)
        for byte in rest.encode()
    )
    return quoted.replace("/", "_")


def _release_fields(lists: Path, source: Source) -> dict[str, str] | None:
    """The head of the Release file apt downloaded for `source`, or None before any download."""
    for file in ("InRelease", "Release"):
        try:
            with (lists / _list_name(source.uri, source.suite, file)).open(errors="replace") as handle:
                return _release_head(handle)
        except OSError:
            continue
    return None


def _release_head(lines: Iterable[str]) -> dict[str, str]:
    fields: dict[str, str] = {}
    in_armor_header = False
    for line in lines:
        if line.startswith("-----BEGIN PGP SIGNED MESSAGE"):
            in_armor_header = True
        elif in_armor_header:
            in_armor_header = bool(line.strip())
        elif line[:1] in (" ", "\t") or not line.strip() or line.startswith("-----"):
            break  # the checksum lists start here; everything wanted is above them
        elif ":" in line:
            name, value = line.split(":", 1)
            fields[name.strip().lower()] = value.strip()
    return fields


def _is_release_name(suite: str) -> bool:
    """A release such as `bookworm` or `stable`, not a pocket such as `bookworm-updates`."""
    return re.fullmatch(r"[a-z]+", suite) is not None


def _security_base(suite: str) -> str | None:
    """`bookworm` for `bookworm-security` (and the older `buster/updates`), else None."""
    match = re.fullmatch(r"([a-z]+)(?:-security|/updates)", suite)
    return match[1] if match else None


def _role_by_release(fields: Mapping[str, str], suite: str) -> Role:
    if fields.get("origin") != "Debian":
        return Role.OTHER
    if fields.get("label") == "Debian-Security" or _security_base(suite):
        return Role.SECURITY
    # NotAutomatic marks a partial suite such as experimental: it cannot bootstrap a system.
    if fields.get("label") == "Debian" and _is_release_name(suite) and fields.get("notautomatic") != "yes":
        return Role.ARCHIVE
    return Role.OTHER


def _guessed(source: Source, releases: frozenset[str]) -> Source:
    """A Debian entry guessed by its suite; another repository's own key or an alias make it less sure."""
    base = _security_base(source.suite)
    if "main" not in source.components:
        role = Role.OTHER
    elif source.suite in releases:
        role = Role.ARCHIVE
    elif base in releases:
        role = Role.SECURITY
    else:
        role = Role.OTHER
    foreign_key = source.signed_by is not None and "debian-archive-" not in source.signed_by
    doubt = 1 + 2 * foreign_key + ((base or source.suite) in _ALIASES)
    return dataclasses.replace(source, role=role, doubt=doubt)


def _debian_releases(os_release: Path) -> frozenset[str]:
    """The known Debian release names, and the host's own when it is Debian (it may be newer than this list)."""
    try:
        lines = os_release.read_text().splitlines()
    except OSError:
        return DEBIAN_RELEASES
    values = {key: value.strip("\"'") for key, value in _key_values(lines).items()}
    codename = values.get("VERSION_CODENAME", "")
    return DEBIAN_RELEASES | {codename} if values.get("ID") == "debian" and codename else DEBIAN_RELEASES


def host_sources(host: AptHost = HOST) -> list[Source]:
    """Every enabled `deb` suite of the host, each with its role (Debian's archive, its security archive, other)."""
    releases = _debian_releases(host.os_release)
    sources: list[Source] = []
    for source in _parsed_sources(host.etc):
        fields = _release_fields(host.lists, source)
        if fields is None:
            sources.append(_guessed(source, releases))
        else:
            sources.append(dataclasses.replace(source, role=_role_by_release(fields, source.suite), doubt=0))
    return sources


def _best(sources: Iterable[Source], role: Role) -> Source | None:
    return min((s for s in sources if s.role is role), key=lambda s: s.doubt, default=None)


def _archive(sources: Iterable[Source]) -> Source:
    archive = _best(sources, Role.ARCHIVE)
    if archive is None:
        raise MirrorError("no Debian archive found in the host's apt sources; set DEBIAN_MIRROR to a mirror's URL")
    return archive


def _plain_uri(uri: str) -> str:
    """The first mirror of a `mirror+file:` list: a stand-in's own apt has no such file."""
    if not uri.startswith("mirror+file:"):
        return uri
    path = Path(re.sub(r"^mirror\+file:(//)?", "", uri))
    try:
        lines = path.read_text().splitlines()
    except OSError:
        lines = []
    words = [line.split("#", 1)[0].split() for line in lines]
    first = next((w[0] for w in words if w), None)
    if first is None:
        raise MirrorError(f"the host's Debian mirror list {path} cannot be read; set DEBIAN_MIRROR to a mirror's URL")
    return first


def find_mirrors(sources: Iterable[Source]) -> Mirrors:
    sources = list(sources)
    security = _best(sources, Role.SECURITY)
    return Mirrors(_plain_uri(_archive(sources).uri), _plain_uri(security.uri) if security else None)


def configured_mirrors(environ: Mapping[str, str] = os.environ, host: AptHost = HOST) -> Mirrors:
    """DEBIAN_MIRROR (and DEBIAN_SECURITY_MIRROR) when set, else the host's own apt sources."""
    explicit = environ.get("DEBIAN_MIRROR", "")
    if explicit:
        return Mirrors(explicit, environ.get("DEBIAN_SECURITY_MIRROR") or None)
    return find_mirrors(host_sources(host))


def _stanza(uri: str, suite: str, signed_by: str | None) -> str:
    lines = ["Types: deb", f"URIs: {uri}", f"Suites: {suite}", "Components: main"]
    if signed_by:
        # An inline key starts on the next line, so nothing may follow the colon.
        separator = "" if signed_by.startswith("\n") else " "
        lines.append(f"Signed-By:{separator}{signed_by}")
    return "\n".join(lines) + "\n"


def archive_source(sources: Iterable[Source], suite: str) -> str:
    """A deb822 stanza for `suite` from the host's own archive entry (used by setup-host.sh)."""
    archive = _archive(sources)
    return _stanza(archive.uri, suite, archive.signed_by)


def main(argv: list[str] | None = None, environ: Mapping[str, str] = os.environ, host: AptHost = HOST) -> int:
    parser = argparse.ArgumentParser(description="Print an apt source for SUITE from the host's own mirror.")
    parser.add_argument("suite")
    args = parser.parse_args(argv)
    explicit = environ.get("DEBIAN_MIRROR", "")

    def run() -> int:
        if explicit:
            keyring = str(host.debian_keyring) if host.debian_keyring.is_file() else None
            stanza = _stanza(explicit, args.suite, keyring)
        else:
            stanza = archive_source(host_sources(host), args.suite)
        sys.stdout.write(stanza)
        return 0

    return reporting_errors(run)


if __name__ == "__main__":
    sys.exit(main())
