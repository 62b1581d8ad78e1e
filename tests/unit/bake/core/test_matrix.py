from __future__ import annotations

import tomllib
from datetime import date, timedelta
from typing import Any

import pytest

from bake.core.matrix import MatrixError, RetiredVersion, load_matrix, parse_matrix
from bake.paths import MATRIX_FILE, REPO_ROOT

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
        ({"default_python": "3.9"}, "default_python '3.9' is not one of the listed python versions"),
        ({"python": []}, "'python' lists no version"),
        (
            {"python": [{"version": "3.x", "eol": "2027-10-31"}]},
            "'version' must be MAJOR.MINOR such as '3.11', got '3.x'",
        ),
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


def test_a_retired_default_hands_latest_to_the_newest_supported_version() -> None:
    # Listed out of order: "newest" is by version number, not by place in the file.
    data = _data(
        default_python="3.10",
        python=[
            {"version": "3.13", "eol": "2029-10-31"},
            {"version": "3.10", "eol": "2026-10-31"},
            {"version": "3.12", "eol": "2028-10-31"},
        ],
    )
    matrix = parse_matrix(data, BUILD_DATE)
    assert matrix.latest_python == "3.13"
    assert [image.tag for image in matrix.images if image.is_default] == ["python3.13", "python3.13-slim"]
    assert matrix.retired_default == RetiredVersion("3.10", date(2026, 10, 31), None)
    assert parse_matrix(data, date(2026, 10, 30)).latest_python == "3.10"
    assert parse_matrix(data, date(2026, 10, 30)).retired_default is None


def test_every_version_retired_leaves_an_empty_matrix_not_an_error() -> None:
    matrix = parse_matrix(_data(), date(2028, 10, 31))
    assert matrix.images == ()
    assert matrix.latest_python is None
    assert [version.python for version in matrix.retired] == ["3.10", "3.11", "3.12"]
    assert matrix.build_date == date(2028, 10, 31)


def test_a_retired_version_needs_no_debian_table_any_more() -> None:
    data = _data(
        python=[{"version": "3.9", "eol": "2025-10-31", "debian": "bullseye"}, {"version": "3.11", "eol": "2027-10-31"}]
    )
    assert [version.python for version in parse_matrix(data, BUILD_DATE).retired] == ["3.9"]


def _end_of_life_dates() -> list[date]:
    """Every end of life in the committed data file: all of its versions are retired by date.max."""
    return sorted({version.eol for version in load_matrix(date.max, MATRIX_FILE).retired})


@pytest.mark.parametrize("day_after", [eol + timedelta(days=1) for eol in _end_of_life_dates()], ids=str)
def test_the_committed_data_file_loads_after_every_end_of_life(day_after: date) -> None:
    matrix = load_matrix(day_after)
    assert all(version.eol < day_after for version in matrix.retired)
    assert all(image.python not in {version.python for version in matrix.retired} for image in matrix.images)
    latest_holders = [image.tag for image in matrix.images if image.is_default and image.variant == "full"]
    assert latest_holders == ([f"python{matrix.latest_python}"] if matrix.images else [])


@pytest.mark.parametrize(
    ("flavors", "message"),
    [
        ({"FastAPI": {"requirements": ["fastapi==1.0"]}}, "flavors: name 'FastAPI' must be lowercase"),
        ({"fastapi": {"requirements": ["fastapi>=1.0"]}}, "flavors.fastapi: 'requirements' must pin each version"),
        ({"fastapi": {"requirements": []}}, "flavors.fastapi: 'requirements' must pin each version"),
        ({"fastapi": {}}, "flavors.fastapi: 'requirements' must be a list"),
    ],
)
def test_a_bad_flavor_is_one_line(flavors: dict[str, object], message: str) -> None:
    data = tomllib.loads(MATRIX_FILE.read_text()) | {"flavors": flavors}
    with pytest.raises(MatrixError) as error:
        parse_matrix(data, date(2026, 11, 24))
    assert str(error.value).startswith(message)


def test_the_data_file_pins_each_flavor_and_ships_its_sample_app() -> None:
    matrix = load_matrix(date(2026, 11, 24))
    assert [flavor.name for flavor in matrix.flavors] == ["fastapi", "starlette"]
    for flavor in matrix.flavors:
        assert all("==" in requirement for requirement in flavor.requirements)
        assert (REPO_ROOT / flavor.directory / "app" / "main.py").is_file()
    assert len(matrix.flavored) == 2 * len(matrix.images)
