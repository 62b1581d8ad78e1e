"""Who signs: a key pair where one is given, else the GitHub job's OIDC identity; else nothing is pushed."""

from __future__ import annotations

import pytest

from bake.release.signing import GITHUB_ISSUER, Signer, SigningError, sign, signer_from_environment


def test_a_key_pair_wins() -> None:
    assert signer_from_environment({"COSIGN_KEY": "env://KEY", "ACTIONS_ID_TOKEN_REQUEST_URL": "x"}) == Signer(
        "env://KEY"
    )


def test_keyless_in_github_actions_names_the_workflow_identity() -> None:
    signer = signer_from_environment(
        {
            "ACTIONS_ID_TOKEN_REQUEST_URL": "https://token.example",
            "GITHUB_SERVER_URL": "https://github.com",
            "GITHUB_WORKFLOW_REF": "acme/uvicorn-gunicorn/.github/workflows/publish.yml@refs/heads/main",
        }
    )
    assert signer == Signer(
        None, "https://github.com/acme/uvicorn-gunicorn/.github/workflows/publish.yml@refs/heads/main", GITHUB_ISSUER
    )


def test_no_identity_is_a_one_line_error() -> None:
    with pytest.raises(SigningError, match=r"^publishing signs every index: set COSIGN_KEY") as error:
        signer_from_environment({})
    assert "\n" not in str(error.value)


def test_a_missing_cosign_says_how_to_get_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("bake.release.signing.shutil.which", lambda _: None)
    with pytest.raises(SigningError, match=r"cosign is not installed: \./setup-host\.sh installs it"):
        sign(Signer("cosign.key"), "registry.example/acme/x@sha256:" + "a" * 64)


def test_only_a_digest_is_signed() -> None:
    with pytest.raises(SigningError, match="by digest"):
        sign(Signer("cosign.key"), "registry.example/acme/x:latest")
