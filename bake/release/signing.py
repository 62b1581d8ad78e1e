"""Signatures of published indexes, with cosign: made right after an index is pushed, and
verified from the registry before any run reports success.

Key pair (COSIGN_KEY: a key file or `env://VAR`, its password in COSIGN_PASSWORD): no
transparency log, so it works offline and against a local registry; users verify with the
public key. Keyless (in GitHub Actions with `id-token: write`, no COSIGN_KEY): the job's
OIDC identity gets a short-lived certificate and the signature goes to the public
transparency log; users verify against the workflow's identity and GitHub's issuer.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bake.core.reference import ImageReference
from bake.errors import BakeError
from bake.progress import say

GITHUB_ISSUER = "https://token.actions.githubusercontent.com"


class SigningError(BakeError):
    """An index cannot be signed, or its signature does not verify."""


@dataclass(frozen=True)
class Signer:
    key: str | None  # None: keyless
    identity: str | None = None  # keyless: the certificate identity verification demands
    issuer: str | None = None

    def describe(self) -> str:
        return f"key {self.key}" if self.key else f"keyless, {self.identity} ({self.issuer})"


def signer_from_environment(environment: dict[str, str] | None = None) -> Signer:
    env = dict(os.environ if environment is None else environment)
    if env.get("COSIGN_KEY"):
        return Signer(env["COSIGN_KEY"])
    if env.get("ACTIONS_ID_TOKEN_REQUEST_URL") and env.get("GITHUB_WORKFLOW_REF"):
        server = env.get("GITHUB_SERVER_URL", "https://github.com")
        return Signer(None, f"{server}/{env['GITHUB_WORKFLOW_REF']}", GITHUB_ISSUER)
    raise SigningError(
        "publishing signs every index: set COSIGN_KEY to a cosign private key (cosign generate-key-pair; "
        "its password in COSIGN_PASSWORD), or run in GitHub Actions with id-token: write for keyless signing"
    )


def _cosign(*args: str) -> subprocess.CompletedProcess[str]:
    if shutil.which("cosign") is None:
        raise SigningError(
            "cosign is not installed: ./setup-host.sh installs it from Debian 13 (trixie) where that suite is "
            "configured; elsewhere install cosign 2.x"
        )
    return subprocess.run(["cosign", *args], capture_output=True, text=True, stdin=subprocess.DEVNULL)


def generate_key_pair(directory: Path, password: str) -> tuple[Path, Path]:
    """A new cosign key pair in `directory` (for tests and local runs); returns (private, public)."""
    result = subprocess.run(
        ["cosign", "generate-key-pair"],
        cwd=directory,
        env={**os.environ, "COSIGN_PASSWORD": password},
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    if result.returncode != 0:
        raise SigningError(f"cosign generate-key-pair failed: {_last_line(result)}")
    return directory / "cosign.key", directory / "cosign.pub"


def _last_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = (result.stderr or result.stdout).strip().splitlines()
    return lines[-1] if lines else f"exit code {result.returncode}"


def sign(signer: Signer, reference: str) -> None:
    """Signs the index `reference` names (repository@sha256:...)."""
    if "@sha256:" not in reference:
        raise SigningError(f"signing takes an index by digest, not {reference}")
    options = ["--key", signer.key, "--tlog-upload=false"] if signer.key else []
    result = _cosign("sign", "--yes", *options, reference)
    if result.returncode != 0:
        raise SigningError(f"cosign could not sign {reference}: {_last_line(result)}")


def _public_key(signer: Signer, directory: Path) -> Path:
    assert signer.key is not None
    result = _cosign("public-key", "--key", signer.key)
    if result.returncode != 0:
        raise SigningError(f"cosign could not read the public key of {signer.key}: {_last_line(result)}")
    path = directory / "cosign.pub"
    path.write_text(result.stdout)
    return path


def verify(signer: Signer, reference: str, digest: str, public_key: Path | None = None) -> None:
    """Checks, from the registry, that `reference` carries a valid signature of `signer` for
    exactly `digest`; logs one line."""
    with tempfile.TemporaryDirectory(prefix="cosign-") as directory:
        if signer.key:
            key = public_key or _public_key(signer, Path(directory))
            options = ["--key", str(key), "--insecure-ignore-tlog=true"]
        else:
            options = ["--certificate-identity", str(signer.identity), "--certificate-oidc-issuer", str(signer.issuer)]
        result = _cosign("verify", *options, reference)
    if result.returncode != 0:
        raise SigningError(f"the signature of {reference} does not verify: {_last_line(result)}")
    signed = {entry["critical"]["image"]["docker-manifest-digest"] for entry in json.loads(result.stdout)}
    if digest not in signed:
        raise SigningError(f"{reference} is signed for {', '.join(sorted(signed))}, not {digest}")
    say(f"signature of {reference}: verified ({signer.describe()})")


def ensure_signed(signer: Signer, repository: str, digest: str) -> None:
    """Signs `repository@digest` unless a retried run already did, then verifies the signature."""
    reference = str(ImageReference(repository).at(digest))
    try:
        verify(signer, reference, digest)
        return
    except SigningError:
        pass
    sign(signer, reference)
    verify(signer, reference, digest)
