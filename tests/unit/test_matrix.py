from __future__ import annotations

from typing import Any

import pytest

from bake.matrix import MatrixError, load_matrix, parse_matrix


def _data(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "default_python": "3.11",
        "platforms": ["linux/amd64", "linux/arm64"],
        "python": [
            {"version": "3.11", "debian": "bookworm", "variants": ["full", "slim"]},
            {"version": "3.13", "debian": "trixie", "variants": ["slim"]},
        ],
        "debian": {"bookworm": {"pockets": ["updates", "security"]}, "trixie": {"pockets": []}},
    }
    data.update(changes)
    return data


def test_every_version_and_variant_becomes_an_image() -> None:
    matrix = parse_matrix(_data())
    assert [image.tag for image in matrix.images] == ["python3.11", "python3.11-slim", "python3.13-slim"]
    assert [image.official_base for image in matrix.images] == ["python:3.11", "python:3.11-slim", "python:3.13-slim"]
    assert [image.target for image in matrix.images] == ["python3_11", "python3_11-slim", "python3_13-slim"]
    assert all(image.platforms == ("linux/amd64", "linux/arm64") for image in matrix.images)


def test_default_flag_and_debian_suite() -> None:
    images = parse_matrix(_data()).by_tag()
    assert images["python3.11-slim"].is_default
    assert not images["python3.13-slim"].is_default
    assert images["python3.13-slim"].debian.name == "trixie"
    assert images["python3.11"].debian.pockets == ("updates", "security")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"default_python": "3.99"}, "default_python '3.99' is not a listed version"),
        ({"python": [{"version": "3.11", "debian": "sid", "variants": ["slim"]}]}, "'sid' has no [debian.sid]"),
        ({"python": [{"version": "3.11", "debian": "bookworm", "variants": ["alpine"]}]}, "unknown variant 'alpine'"),
        ({"python": [{"version": "3.11", "debian": "bookworm", "variants": ["slim", "slim"]}]}, "tags listed twice"),
        ({"platforms": "linux/amd64"}, "'platforms' must be a list"),
    ],
)
def test_invalid_data_is_named(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(MatrixError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_matrix(_data(**changes))


def test_the_committed_data_file_is_valid() -> None:
    assert "python3.11-slim" in load_matrix().by_tag()
