"""Certificates the tests make for themselves, at test time: one made in a cached image step
would be served, expired, by a cached rebuild days later."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class KeyPair:
    key: Path
    certificate: Path


def self_signed(directory: Path, subject: str, alt_names: str | None = None) -> KeyPair:
    """A P-256 key and a self-signed certificate for it in `directory`, valid for a day from
    now; `alt_names` as openssl's subjectAltName takes them (DNS:localhost,IP:127.0.0.1)."""
    pair = KeyPair(directory / "key.pem", directory / "cert.pem")
    extension = ["-addext", f"subjectAltName={alt_names}"] if alt_names else []
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"),
            *("-days", "1", "-subj", subject, *extension),
            *("-keyout", str(pair.key), "-out", str(pair.certificate)),
        ],
        check=True,
        capture_output=True,
    )
    return pair
