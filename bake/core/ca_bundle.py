"""The CA bundle handed to pip inside builds, as a BuildKit secret."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from bake.errors import BakeError

# Checked in this order; the first that is set wins.
BUNDLE_VARIABLES = ("PIP_CERT", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE")
SYSTEM_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


class CaBundleError(BakeError):
    """The configured CA bundle cannot be read."""


def find_ca_bundle(environ: Mapping[str, str] = os.environ) -> Path:
    for name in BUNDLE_VARIABLES:
        value = environ.get(name, "")
        if value:
            path = Path(value)
            if not path.is_file():
                raise CaBundleError(f"{name}={value!r} is not a readable file")
            return path
    if not SYSTEM_BUNDLE.is_file():
        raise CaBundleError(f"no CA bundle: set PIP_CERT, or install ca-certificates for {SYSTEM_BUNDLE}")
    return SYSTEM_BUNDLE
