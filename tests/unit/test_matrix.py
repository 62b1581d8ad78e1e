from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from bake.matrix import MatrixError, RetiredVersion, load_matrix, parse_matrix

BUILD_DATE = date(2026, 11, 24)


def _data(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "default_python": "3.11",
        "platforms": ["linux/amd64", "linux/arm64"],
        "variants": ["full", "slim"],
        "python": [
            {"version": "3.10", "eol": "2026-10-31", "last_date_tag": "python3.10-2026-10-26"},
            {"version": "3.11", "eol": "2027-10-31", "debian": "bookworm"},
            {"version": "3.12", "eol": "2028-10-31"},
        ],
        "debian": {
            "bookworm": {"pockets": ["updates", "security"]},
            "forky": {"pockets": [], "expired_release_ok": True},
        },
    }
    data.update(changes)
    return data


def test_every_supported_version_and_variant_becomes_an_image() -> None:
    matrix = parse_matrix(_data(), BUILD_DATE)
    assert [image.tag for image in matrix.images] == ["python3.11", "python3.11-slim", "python3.12", "python3.12-slim"]
    assert [image.official_base for image in matrix.images][:2] == ["python:3.11", "python:3.11-slim"]
    assert [image.target for image in matrix.images][:2] == ["python3_11", "python3_11-slim"]
    assert all(image.platforms == ("linux/amd64", "linux/arm64") for image in matrix.images)


def test_versions_past_their_end_of_life_are_retired() -> None:
    matrix = parse_matrix(_data(), BUILD_DATE)
    assert matrix.retired == (RetiredVersion("3.10", date(2026, 10, 31), "python3.10-2026-10-26"),)
    earlier = parse_matrix(_data(), date(2026, 10, 30))
    assert "python3.10-slim" in earlier.by_tag()
    assert earlier.retired == ()


def test_default_flag_and_debian_suite() -> None:
    images = parse_matrix(_data(), BUILD_DATE).by_tag()
    assert images["python3.11-slim"].is_default
    assert not images["python3.12-slim"].is_default
    suite = images["python3.11"].debian
    assert suite is not None and suite.pockets == ("updates", "security")
    assert images["python3.12"].debian is None


def _escaped(text: str) -> str:
    return text.replace("[", r"\[").replace("]", r"\]").replace(".", r"\.")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"default_python": "3.10"}, "default_python '3.10' is not a supported version on 2026-11-24"),
        ({"python": [{"version": "3.11", "eol": "2027-10-31", "debian": "sid"}]}, "'sid' has no [debian.sid]"),
        ({"variants": ["alpine"]}, "unknown variant 'alpine'"),
        ({"python": [{"version": "3.11", "eol": "soon"}]}, "'eol' must be a date"),
        (
            {"python": [{"version": "3.11", "eol": "2027-10-31"}, {"version": "3.11", "eol": "2027-10-31"}]},
            "versions listed twice: 3.11",
        ),
        ({"platforms": "linux/amd64"}, "'platforms' must be a list"),
    ],
)
def test_invalid_data_is_named(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(MatrixError, match=_escaped(message)):
        parse_matrix(_data(**changes), BUILD_DATE)


def test_the_committed_data_file_is_valid() -> None:
    matrix = load_matrix(BUILD_DATE)
    assert {"python3.11-slim", "python3.13", "python3.15-slim"} <= set(matrix.by_tag())
    assert [retired.python for retired in matrix.retired] == ["3.10"]
