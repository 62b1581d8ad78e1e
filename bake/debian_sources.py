"""The Debian mirrors this host already uses, read from its apt configuration.

No mirror name is ever written in the repository: stand-in bases and the engine's
extra suite are fetched from wherever the host's own apt sources point.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

APT_DIR = Path("/etc/apt")
# Files this project adds to the host itself; they are never read back as the host's choice.
PROJECT_SOURCE_PREFIX = "uvicorn-gunicorn-"


class MirrorError(LookupError):
    """No usable Debian mirror was found."""


@dataclass(frozen=True)
class Source:
    uri: str
    suites: tuple[str, ...]
    signed_by: str | None = None


@dataclass(frozen=True)
class Mirrors:
    archive: str
    security: str | None


def _deb822_sources(text: str) -> Iterator[Source]:
    for block in text.split("\n\n"):
        fields: dict[str, str] = {}
        for line in block.splitlines():
            if line.startswith(("#", " ", "\t")) or ":" not in line:
                continue
            key, value = line.split(":", 1)
            fields[key.strip().lower()] = value.strip()
        if "deb" in fields.get("types", "").split() and fields.get("enabled", "yes") != "no":
            for uri in fields.get("uris", "").split():
                yield Source(uri, tuple(fields.get("suites", "").split()), fields.get("signed-by"))


def _one_line_sources(text: str) -> Iterator[Source]:
    for line in text.splitlines():
        words = line.split("#", 1)[0].split()
        if words and words[0] == "deb":
            words = [word for word in words[1:] if not word.startswith("[") and not word.endswith("]")]
            if len(words) >= 2:
                yield Source(words[0], (words[1],))


def host_sources(apt_dir: Path = APT_DIR) -> list[Source]:
    sources: list[Source] = []
    one_line = [apt_dir / "sources.list", *sorted((apt_dir / "sources.list.d").glob("*.list"))]
    deb822 = sorted((apt_dir / "sources.list.d").glob("*.sources"))
    for path in [*one_line, *deb822]:
        if path.name.startswith(PROJECT_SOURCE_PREFIX) or not path.is_file():
            continue
        parse = _deb822_sources if path.suffix == ".sources" else _one_line_sources
        sources.extend(parse(path.read_text()))
    return sources


def _is_archive_suite(suite: str) -> bool:
    """A plain release name such as `bookworm`, not a pocket such as `bookworm-updates`."""
    return suite.isalpha()


def _archive(sources: Iterable[Source]) -> Source:
    archive = next((s for s in sources if any(_is_archive_suite(x) for x in s.suites)), None)
    if archive is None:
        raise MirrorError("no Debian archive found in the host's apt sources; set DEBIAN_MIRROR to a mirror's URL")
    return archive


def find_mirrors(sources: Iterable[Source]) -> Mirrors:
    sources = list(sources)
    security = next((s for s in sources if any(x.endswith("-security") for x in s.suites)), None)
    return Mirrors(_archive(sources).uri, security.uri if security else None)


def configured_mirrors(environ: Mapping[str, str] = os.environ, apt_dir: Path = APT_DIR) -> Mirrors:
    """DEBIAN_MIRROR (and DEBIAN_SECURITY_MIRROR) when set, else the host's own apt sources."""
    explicit = environ.get("DEBIAN_MIRROR", "")
    if explicit:
        return Mirrors(explicit, environ.get("DEBIAN_SECURITY_MIRROR") or None)
    return find_mirrors(host_sources(apt_dir))


def archive_source(sources: Iterable[Source], suite: str) -> str:
    """A deb822 stanza for `suite` from the host's own archive entry (used by setup-host.sh)."""
    archive = _archive(sources)
    lines = ["Types: deb", f"URIs: {archive.uri}", f"Suites: {suite}", "Components: main"]
    if archive.signed_by:
        lines.append(f"Signed-By: {archive.signed_by}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Print an apt source for SUITE from the host's own mirror.")
    parser.add_argument("suite")
    args = parser.parse_args(argv)
    try:
        sys.stdout.write(archive_source(host_sources(), args.suite))
    except MirrorError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
