"""Licence names as Debian's copyright files and Python's package metadata give them, as SPDX
licence identifiers; a name without a sure identifier maps to none."""

from __future__ import annotations

import re
from collections.abc import Iterable

NOASSERTION = "NOASSERTION"

# Debian's short names (copyright-format 1.0, /usr/share/common-licenses), lower-cased.
DEBIAN_NAMES = {
    "apache-2": "Apache-2.0",
    "apache-2.0": "Apache-2.0",
    "artistic": "Artistic-1.0-Perl",
    "bsd": "BSD-3-Clause",  # /usr/share/common-licenses/BSD is the Regents' 3-clause text
    "bsd-2-clause": "BSD-2-Clause",
    "bsd-3-clause": "BSD-3-Clause",
    "bsd-4-clause": "BSD-4-Clause",
    "bsd-4-clause-uc": "BSD-4-Clause-UC",
    "beerware": "Beerware",
    "fsfullr": "FSFULLR",
    "latex2e": "Latex2e",
    "cc0-1.0": "CC0-1.0",
    "expat": "MIT",
    "mit": "MIT",
    "isc": "ISC",
    "zlib": "Zlib",
    "curl": "curl",
    "openssl": "OpenSSL",
    "x11": "X11",
    "mpl-1.1": "MPL-1.1",
    "mpl-2.0": "MPL-2.0",
    "psf-2": "PSF-2.0",
    "python": "Python-2.0",
    "gfdl-1.2": "GFDL-1.2-only",
    "gfdl-1.2+": "GFDL-1.2-or-later",
    "gfdl-1.3": "GFDL-1.3-only",
    "gfdl-1.3+": "GFDL-1.3-or-later",
    **{
        f"{family}-{version}{plus}": f"{family.upper()}-{spdx}-{'or-later' if plus else 'only'}"
        for family, versions in (
            ("gpl", {"1": "1.0", "2": "2.0", "3": "3.0"}),
            ("lgpl", {"2": "2.0", "2.1": "2.1", "3": "3.0"}),
            ("agpl", {"3": "3.0"}),
        )
        for version, spdx in versions.items()
        for plus in ("", "+")
    },
}

# The licence classifiers of Python packages that name one licence unambiguously.
CLASSIFIERS = {
    "License :: OSI Approved :: MIT License": "MIT",
    "License :: OSI Approved :: ISC License (ISCL)": "ISC",
    "License :: OSI Approved :: Mozilla Public License 2.0 (MPL 2.0)": "MPL-2.0",
    "License :: OSI Approved :: Python Software Foundation License": "PSF-2.0",
    "License :: OSI Approved :: The Unlicense (Unlicense)": "Unlicense",
    "License :: CC0 1.0 Universal (CC0 1.0) Public Domain Dedication": "CC0-1.0",
}

_TOKEN = re.compile(r"\(|\)|[A-Za-z0-9][A-Za-z0-9.+-]*")
_OPERATORS = {"AND", "OR", "WITH"}
_KNOWN_IDS = {*DEBIAN_NAMES.values(), *CLASSIFIERS.values(), "BSD-2-Clause", "0BSD", "Python-2.0"}


# Grants no licence to list: a package's expression is made of its other names.
PUBLIC_DOMAIN = "public-domain"


def debian_licence(name: str) -> str | None:
    return DEBIAN_NAMES.get(name.strip().lower())


def all_of(identifiers: Iterable[str]) -> str:
    """One SPDX expression for a package whose files carry each of `identifiers`."""
    unique = list(dict.fromkeys(identifiers))
    if not unique:
        return NOASSERTION
    if len(unique) == 1:
        return unique[0]
    return " AND ".join(f"({item})" if " " in item else item for item in unique)


def is_expression(text: str) -> bool:
    """Whether `text` reads as an SPDX licence expression of listed licences (no LicenseRef-:
    a document that used one would have to carry its text)."""
    tokens = _TOKEN.findall(text)
    if not tokens or "".join(tokens) != re.sub(r"\s+", "", text):
        return False
    depth = 0
    for token in tokens:
        depth += {"(": 1, ")": -1}.get(token, 0)
        if depth < 0 or token.startswith("LicenseRef-") or token.startswith("DocumentRef-"):
            return False
    return depth == 0 and tokens[0] not in _OPERATORS and tokens[-1] not in _OPERATORS


def python_licence(expression: str | None, licence: str | None, classifiers: Iterable[str]) -> str:
    """A distribution's licence: its License-Expression (PEP 639), else a License field that is
    one known identifier, else its one licence classifier where that names one licence (several
    usually mean a choice, which the classifiers do not spell out)."""
    if expression and is_expression(expression):
        return expression.strip()
    if licence and licence.strip() in _KNOWN_IDS:
        return licence.strip()
    licence_classifiers = [classifier for classifier in classifiers if classifier.startswith("License ::")]
    if len(licence_classifiers) == 1:
        return CLASSIFIERS.get(licence_classifiers[0], NOASSERTION)
    return NOASSERTION
