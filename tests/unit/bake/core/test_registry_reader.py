"""The one registry reader: digests and platforms as imagetools computed them, a missing tag
told by imagetools' own line for it, and no digest computed anywhere else."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from bake.core.registry_reader import RegistryReadError, find_index, index_of, is_missing, read_document
from bake.paths import REPO_ROOT
from tests.unit.source_scan import found_outside, matching_lines, python_sources

INDEX = {
    "schemaVersion": 2,
    "mediaType": "application/vnd.oci.image.index.v1+json",
    "digest": "sha256:" + "1" * 64,
    "size": 856,
    "manifests": [
        {"digest": "sha256:" + "a" * 64, "platform": {"architecture": "amd64", "os": "linux"}},
        {"digest": "sha256:" + "b" * 64, "platform": {"architecture": "arm64", "os": "linux", "variant": "v8"}},
        {
            "digest": "sha256:" + "c" * 64,
            "platform": {"architecture": "unknown", "os": "unknown"},
            "annotations": {"vnd.docker.reference.type": "attestation-manifest"},
        },
    ],
    "annotations": {"org.opencontainers.image.revision": "abc"},
}


def _answer(monkeypatch: pytest.MonkeyPatch, returncode: int, stdout: bytes, stderr: bytes = b"") -> list[list[str]]:
    calls: list[list[str]] = []

    def run(command: list[str], **_: object) -> subprocess.CompletedProcess[bytes]:
        calls.append(command)
        return subprocess.CompletedProcess(command, returncode, stdout, stderr)

    monkeypatch.setattr(subprocess, "run", run)
    return calls


def test_an_index_ending_in_a_newline_reads_as_the_engine_computed_it(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _answer(monkeypatch, 0, (json.dumps(INDEX, indent=2) + "\n").encode())
    index = find_index("registry.example/acme/ug:python3.11-slim")
    assert index is not None
    assert index.digest == INDEX["digest"], "the digest imagetools reports, not a hash of the text"
    assert index.platforms == {"linux/amd64": "sha256:" + "a" * 64, "linux/arm64": "sha256:" + "b" * 64}
    assert index.annotations == {"org.opencontainers.image.revision": "abc"}
    assert calls[0][-3:] == ["--format", "{{json .Manifest}}", "registry.example/acme/ug:python3.11-slim"]


def test_a_manifest_of_one_image_has_its_digest_and_no_platforms() -> None:
    digest = "sha256:" + "d" * 64
    assert index_of({"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest}).digest == digest


def test_a_missing_tag_is_none_and_any_other_failure_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    _answer(monkeypatch, 1, b"", b"ERROR: 127.0.0.1:5000/ug:nope: not found\n")
    assert find_index("127.0.0.1:5000/ug:nope") is None
    with pytest.raises(RegistryReadError, match="not found"):
        read_document("127.0.0.1:5000/ug:nope")
    _answer(monkeypatch, 1, b"", b"ERROR: failed to do request: Head ...: connect: connection refused\n")
    with pytest.raises(RegistryReadError, match=r"^cannot read 127.0.0.1:5000/ug:x: .*connection refused$"):
        find_index("127.0.0.1:5000/ug:x")


@pytest.mark.parametrize(
    ("stderr", "missing"),
    [
        (b"ERROR: registry.example/acme/ug:python3.11-slim: not found\n", True),
        (b"ERROR: unexpected status: 401 Unauthorized: repository not found or access denied\n", False),
        (b"ERROR: failed to resolve: blob not found in the cache\n", False),
        (b"", False),
    ],
)
def test_only_imagetools_own_line_for_a_missing_reference_means_missing(stderr: bytes, missing: bool) -> None:
    assert is_missing(stderr) is missing


# A digest composed by hand: "sha256:" joined to a hash computed here.
COMPUTED_DIGEST = re.compile(r"""["']sha256:["']\s*\+\s*hashlib|f["']sha256:\{hashlib""")


def computed_digests(path: Path, root: Path = REPO_ROOT) -> list[str]:
    return matching_lines(path, lambda line: bool(COMPUTED_DIGEST.search(line)), root)


def test_the_scan_finds_a_hand_computed_digest(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    computed = ['d = "sha256:" + hashlib.sha256(raw).hexdigest()', 'f"sha256:{hashlib.sha256(b).hexdigest()}"']
    other = ["key = hashlib.sha256(text).hexdigest()[:12]", 'digest = "sha256:" + "a" * 64']
    sample.write_text("\n".join(computed + other) + "\n")
    assert [line.split(": ", 1)[1] for line in computed_digests(sample, tmp_path)] == computed


def test_no_digest_is_computed_outside_the_registry_reader() -> None:
    assert REPO_ROOT / "bake" / "core" / "registry_reader.py" in python_sources()
    found = found_outside(
        ("registry_reader.py", "test_registry_reader.py"), lambda line: bool(COMPUTED_DIGEST.search(line))
    )
    assert found == [], "read digests with bake.core.registry_reader (digest_of_bytes for bytes):\n" + "\n".join(found)
