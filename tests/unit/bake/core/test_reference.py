"""Image references are composed in bake/core/reference.py alone, and read back the way docker reads them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bake.core.matrix import DebianSuite, Image
from bake.core.naming import image_references, local_reference, reference_strings
from bake.core.reference import ImageReference, parse_reference
from bake.paths import REPO_ROOT
from tests.unit.source_scan import found_outside, matching_lines, python_sources

SUITE = DebianSuite("bookworm", ())


def _image(variant: str, is_default: bool = True) -> Image:
    return Image("3.11", variant, SUITE, ("linux/amd64",), is_default)


def test_a_reference_renders_repository_tag_and_digest() -> None:
    reference = ImageReference("registry.example:5000/acme/ug", "python3.11-slim")
    assert str(reference) == "registry.example:5000/acme/ug:python3.11-slim"
    assert str(reference.at("sha256:abc")) == "registry.example:5000/acme/ug@sha256:abc"
    assert str(ImageReference("ug")) == "ug"
    assert str(ImageReference("ug", "t").in_registry("localhost:5000")) == "localhost:5000/ug:t"


def test_the_first_date_tag_has_no_serial_and_later_ones_do() -> None:
    dated = ImageReference("ug", "python3.11-slim-2026-11-24")
    assert dated.with_serial(1) == dated
    assert str(dated.with_serial(2)) == "ug:python3.11-slim-2026-11-24.2"
    with pytest.raises(ValueError, match="no tag"):
        ImageReference("ug").with_serial(2)


@pytest.mark.parametrize(
    "text",
    ["ug", "ug:python3.11", "localhost:5000/acme/ug", "localhost:5000/acme/ug:latest", "acme/ug@sha256:0123"],
)
def test_a_rendered_reference_reads_back_as_itself(text: str) -> None:
    assert str(parse_reference(text)) == text


def test_a_registry_port_is_not_a_tag() -> None:
    assert parse_reference("localhost:5000/ug") == ImageReference("localhost:5000/ug")


def test_a_build_gets_the_moving_tags_then_the_date_tags() -> None:
    assert reference_strings(image_references(_image("full"), "docker.io/acme/ug", "2026-11-24")) == [
        "docker.io/acme/ug:python3.11",
        "docker.io/acme/ug:latest",
        "docker.io/acme/ug:python3.11-2026-11-24",
    ]
    assert reference_strings(image_references(_image("slim"), "ug", None)) == ["ug:python3.11-slim"]
    assert str(local_reference(_image("slim"), "ug")) == "ug:python3.11-slim"


# Inside an f-string: `{name}:{tag}`, `{name}@{digest}`, `acme/ug:{tag}`, `python:{version}`.
COMPOSED = re.compile(r"""\bf(["'])(?:(?!\1).)*?(?:\}|[\w.}-]/[\w.-]+|\bpython)[:@]\{""")
# What the pattern takes for a reference but is none: URLs, host:port, a package URL, GitHub
# actions at a commit.
NOT_IMAGE_REFERENCES = (
    "{self.commit}",
    "{action.commit}",
    "uses: ",
    "://",
    "127.0.0.1:{",
    "get_container_host_ip()}:{",
    "os.getenv('HOST', '0.0.0.0')}:{",
    "pkg:{",
)


def _composed(line: str) -> bool:
    return bool(COMPOSED.search(line)) and not any(allowed in line for allowed in NOT_IMAGE_REFERENCES)


def composed_references(path: Path, root: Path = REPO_ROOT) -> list[str]:
    return matching_lines(path, _composed, root)


def test_the_scan_finds_a_hand_made_reference(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    composed = [
        'f"{name}:{image.tag}"',
        'f"{registry}/ug:{tag}"',
        'f"{repository}@{digest}"',
        "f'acme/ug:{tag}'",
        'f"python:{version}-slim"',
    ]
    other = ['f"{tag}: skip"', 'f"{tag}-{slug}"', '"{a}:{b}"', 'f"memory:{cgroup}"', 'f"http://host:{port}/"']
    sample.write_text("\n".join(composed + other) + "\n")
    assert [line.split(": ", 1)[1] for line in composed_references(sample, tmp_path)] == composed


def test_no_image_reference_is_composed_outside_the_reference_module() -> None:
    sources = python_sources()
    # A wrong REPO_ROOT would leave nothing to scan, and the check below would hold of nothing.
    assert {
        REPO_ROOT / "noxfile.py",
        REPO_ROOT / "bake" / "core" / "reference.py",
        REPO_ROOT / "devtools" / "__init__.py",
        Path(__file__).resolve(),
    } <= set(sources)
    found = found_outside(("reference.py", "test_reference.py"), _composed)
    assert found == [], "compose these with bake.core.reference.ImageReference:\n" + "\n".join(found)
