"""The Debian packages installed in a root filesystem, from dpkg's own records."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from .licences import PUBLIC_DOMAIN, debian_licence
from .rootfs import inside

STATUS = PurePosixPath("/var/lib/dpkg/status")
STATUS_DIR = PurePosixPath("/var/lib/dpkg/status.d")  # distroless images: one file per package
INFO_DIR = PurePosixPath("/var/lib/dpkg/info")
DOC_DIR = PurePosixPath("/usr/share/doc")

_LICENSE_FIELD = re.compile(r"^License:[ \t]*(\S[^\n]*)$", re.MULTILINE)
_COMMON_LICENSE = re.compile(r"/usr/share/common-licenses/([A-Za-z0-9][A-Za-z0-9.+-]*[A-Za-z0-9+])")
_SPLIT_NAMES = re.compile(r"\s+(?:or|and)\s+|\s*[|,]\s*", re.IGNORECASE)
_SHORT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.+_-]*( with [A-Za-z0-9.+_-]+ exception)?$", re.IGNORECASE)


@dataclass(frozen=True)
class DebPackage:
    name: str
    version: str
    architecture: str
    source: str | None
    licence_names: tuple[str, ...]  # as the copyright file gives them
    source_version: str | None = None  # where dpkg records one other than the package's

    @property
    def licences(self) -> tuple[str | None, ...]:
        """Each name's SPDX identifier (None where there is no sure one), public domain left out."""
        return tuple(debian_licence(name) for name in self.licence_names if name.lower() != PUBLIC_DOMAIN)


def parse_stanzas(text: str) -> list[dict[str, str]]:
    """The paragraphs of a deb822 file (dpkg's status), each as {field: value}; continuation
    lines are kept in the value."""
    stanzas: list[dict[str, str]] = []
    current: dict[str, str] = {}
    field = ""
    for line in text.splitlines():
        if not line.strip():
            if current:
                stanzas.append(current)
            current, field = {}, ""
        elif line[0] in " \t" and field:
            current[field] += "\n" + line.strip()
        elif ":" in line:
            field, value = line.split(":", 1)
            current[field] = value.strip()
    if current:
        stanzas.append(current)
    return stanzas


def licence_names(copyright_text: str) -> tuple[str, ...]:
    """The licences a Debian copyright file names: its `License:` fields (copyright-format
    1.0), else the texts it points to under /usr/share/common-licenses."""
    names: list[str] = []
    if copyright_text.startswith("Format:"):  # machine-readable; other files' `License:` lines are prose
        for value in _LICENSE_FIELD.findall(copyright_text):
            names += [name for name in _SPLIT_NAMES.split(value.strip()) if _SHORT_NAME.match(name)]
    if not names:  # a pointer to GPL-2 often stands beside a `GPL-2+` field: fields win
        names = _COMMON_LICENSE.findall(copyright_text)
    return tuple(dict.fromkeys(name.rstrip(".") for name in names))


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8", errors="replace")


def _copyright(root: Path, package: str) -> str:
    path = inside(root, DOC_DIR / package / "copyright")
    return _read(path) if path.is_file() else ""


def _status_texts(root: Path) -> list[str]:
    texts = []
    if inside(root, STATUS).is_file():
        texts.append(_read(inside(root, STATUS)))
    status_dir = inside(root, STATUS_DIR)
    if status_dir.is_dir():
        texts += [_read(path) for path in sorted(status_dir.iterdir()) if path.is_file()]
    return texts


def installed_packages(root: Path) -> list[DebPackage]:
    """Every package dpkg records as installed (status `install ok installed`; a distroless
    status.d entry has no Status field and counts as installed)."""
    packages = []
    for text in _status_texts(root):
        for stanza in parse_stanzas(text):
            if stanza.get("Status", "install ok installed") != "install ok installed" or "Package" not in stanza:
                continue
            name = stanza["Package"]
            source_field = re.match(r"^\s*(\S+)(?:\s+\(([^)]+)\))?", stanza.get("Source", ""))
            source = source_field.group(1) if source_field else None
            packages.append(
                DebPackage(
                    name,
                    stanza.get("Version", ""),
                    stanza.get("Architecture", ""),
                    source,
                    licence_names(_copyright(root, name)),
                    source_field.group(2) if source_field else None,
                )
            )
    return sorted(packages, key=lambda package: (package.name, package.architecture))


def owner_of(root: Path, path: PurePosixPath) -> str | None:
    """The installed package whose file list holds `path` (with or without the /usr prefix
    merged-/usr systems drop), by name as dpkg writes it (`python3.11-minimal`, `libc6:amd64`)."""
    wanted = {str(path)}
    if str(path).startswith("/usr/"):
        wanted.add(str(path)[len("/usr") :])
    else:
        wanted.add(f"/usr{path}")
    info = inside(root, INFO_DIR)
    if not info.is_dir():
        return None
    for listing in sorted(info.glob("*.list")):
        if wanted & set(_read(listing).splitlines()):
            return listing.name.removesuffix(".list")
    return None
