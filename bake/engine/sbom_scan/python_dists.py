"""The Python distributions installed in a root filesystem, from their metadata files."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from email.parser import HeaderParser
from pathlib import Path, PurePosixPath

from .licences import python_licence

# dist-info (wheels, PEP 376) keeps METADATA; egg-info (older installs, Debian's python3-*) PKG-INFO.
METADATA_FILES = {".dist-info": "METADATA", ".egg-info": "PKG-INFO"}


@dataclass(frozen=True)
class Distribution:
    name: str
    version: str
    licence: str  # an SPDX expression, or NOASSERTION
    location: PurePosixPath  # its metadata directory, as the image sees it

    @property
    def normalized_name(self) -> str:
        """The name as PEP 503 compares names (and package URLs spell them)."""
        return normalize(self.name)


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def read_metadata(directory: Path) -> tuple[str, str, str] | None:
    """Name, version and licence of the distribution whose metadata directory this is."""
    suffix = next((suffix for suffix in METADATA_FILES if directory.name.endswith(suffix)), None)
    metadata = directory / METADATA_FILES[suffix] if suffix else None
    if metadata is None or not metadata.is_file():
        return None
    headers = HeaderParser().parsestr(metadata.read_text(encoding="utf-8", errors="replace"))
    name, version = headers.get("Name"), headers.get("Version")
    if not name or not version:
        return None
    licence = python_licence(
        headers.get("License-Expression"), headers.get("License"), headers.get_all("Classifier", [])
    )
    return str(name).strip(), str(version).strip(), licence


def installed_distributions(root: Path) -> list[Distribution]:
    """Every distribution with metadata anywhere in the filesystem: site-packages of every
    interpreter and virtual environment, Debian's dist-packages."""
    found = []
    for directory, subdirectories, _ in os.walk(root):
        for name in subdirectories:
            if name.endswith(tuple(METADATA_FILES)):
                path = Path(directory) / name
                metadata = read_metadata(path)
                if metadata:
                    found.append(Distribution(*metadata, PurePosixPath("/") / path.relative_to(root)))
        subdirectories[:] = [name for name in subdirectories if not name.endswith(tuple(METADATA_FILES))]
    return sorted(found, key=lambda dist: (dist.normalized_name, dist.version, str(dist.location)))
