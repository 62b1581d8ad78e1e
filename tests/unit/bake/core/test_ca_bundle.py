from __future__ import annotations

from pathlib import Path

import pytest

from bake.core.ca_bundle import SYSTEM_BUNDLE, CaBundleError, find_ca_bundle


def test_first_set_variable_wins(tmp_path: Path) -> None:
    pip, ssl = tmp_path / "pip.pem", tmp_path / "ssl.pem"
    pip.write_text("pip")
    ssl.write_text("ssl")
    assert find_ca_bundle({"PIP_CERT": str(pip), "SSL_CERT_FILE": str(ssl)}) == pip
    assert find_ca_bundle({"PIP_CERT": "", "SSL_CERT_FILE": str(ssl)}) == ssl
    assert find_ca_bundle({"REQUESTS_CA_BUNDLE": str(ssl)}) == ssl


def test_missing_file_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(CaBundleError, match=r"^SSL_CERT_FILE='.*/nope\.pem' is not a readable file$"):
        find_ca_bundle({"SSL_CERT_FILE": str(tmp_path / "nope.pem")})


def test_system_bundle_when_nothing_is_set() -> None:
    assert find_ca_bundle({}) == SYSTEM_BUNDLE
