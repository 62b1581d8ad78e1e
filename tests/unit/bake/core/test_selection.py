from __future__ import annotations

from datetime import date

import pytest

from bake.core.matrix import Matrix, parse_matrix
from bake.core.selection import Selection, SelectionError, select, select_current, valid_tags, with_base_names


def _matrix(build_date: date, flavors: dict[str, list[str]] | None = None) -> Matrix:
    return parse_matrix(
        {
            "default_python": "3.11",
            "platforms": ["linux/amd64"],
            "variants": ["full", "slim"],
            "python": [{"version": "3.11", "eol": "2027-10-31"}, {"version": "3.13", "eol": "2029-10-31"}],
            "debian": {},
            "flavors": {name: {"requirements": pins} for name, pins in (flavors or {}).items()},
        },
        build_date,
    )


@pytest.fixture
def matrix() -> Matrix:
    return _matrix(date(2026, 11, 24))


def test_nothing_named_selects_everything(matrix: Matrix) -> None:
    assert select(matrix, []) == list(matrix.images)


def test_named_tags_in_matrix_order(matrix: Matrix) -> None:
    chosen = select(matrix, ["python3.13-slim", "python3.11"])
    assert [image.tag for image in chosen] == ["python3.11", "python3.13-slim"]
    assert len(select(matrix, [])) == 4


def test_latest_names_the_default_full_image(matrix: Matrix) -> None:
    assert [image.tag for image in select(matrix, ["latest", "python3.11"])] == ["python3.11"]


def test_unknown_tag_lists_the_valid_ones(matrix: Matrix) -> None:
    with pytest.raises(SelectionError) as error:
        select(matrix, ["python3.11-slim", "python2.7"])
    assert str(error.value) == (
        "unknown tag 'python2.7'; valid tags: python3.11, latest, python3.11-slim, python3.13, python3.13-slim "
        "(and default-slim: python3.11-slim)"
    )
    assert "\n" not in str(error.value)
    assert valid_tags(matrix) == ["python3.11", "latest", "python3.11-slim", "python3.13", "python3.13-slim"]


def test_a_named_tag_of_a_retired_version_is_skipped_with_a_line() -> None:
    selection = select_current(_matrix(date(2027, 11, 1)), ["python3.11-slim", "python3.13", "python3.11-slim"])
    assert [image.tag for image in selection.images] == ["python3.13"]
    assert selection.skipped == ["skipped: python3.11-slim is retired: python 3.11 reached end of life on 2027-10-31"]


def test_only_retired_tags_named_select_nothing_not_everything() -> None:
    selection = select_current(_matrix(date(2027, 11, 1)), ["python3.11"])
    assert selection == Selection([], ["skipped: python3.11 is retired: python 3.11 reached end of life on 2027-10-31"])
    assert len(select_current(_matrix(date(2027, 11, 1)), []).images) == 2


def test_latest_follows_the_matrix_and_is_retired_with_the_last_version() -> None:
    assert [image.tag for image in select(_matrix(date(2027, 11, 1)), ["latest"])] == ["python3.13"]
    selection = select_current(_matrix(date(2029, 11, 1)), ["latest"])
    assert selection.images == []
    assert selection.skipped == ["skipped: latest is retired: python 3.13 reached end of life on 2029-10-31"]


def test_select_refuses_a_retired_tag_and_says_why() -> None:
    with pytest.raises(SelectionError) as error:
        select(_matrix(date(2027, 11, 1)), ["python3.11-slim"])
    assert str(error.value) == (
        "python3.11-slim is retired: python 3.11 reached end of life on 2027-10-31; "
        "valid tags: python3.13, latest, python3.13-slim (and default-slim: python3.13-slim)"
    )


def test_unknown_tags_are_still_errors_when_nothing_is_supported() -> None:
    with pytest.raises(SelectionError, match=r"^unknown tag 'python2\.7'; no tag is supported on 2029-11-01$"):
        select_current(_matrix(date(2029, 11, 1)), ["python2.7"])


@pytest.mark.parametrize(
    ("day", "tag"),
    [(date(2026, 11, 24), "python3.11-slim"), (date(2027, 11, 1), "python3.13-slim")],
)
def test_default_slim_follows_latest_past_an_end_of_life(day: date, tag: str) -> None:
    # What CI and the README's test command name: it must still test an image after 3.11 retires.
    matrix = _matrix(day)
    assert [image.tag for image in select(matrix, ["default-slim"])] == [tag]
    assert select_current(matrix, ["default-slim"]) == Selection(select(matrix, [tag]), [])


def test_default_slim_with_every_version_retired_is_skipped_with_a_line() -> None:
    selection = select_current(_matrix(date(2031, 11, 1)), ["default-slim"])
    assert selection == Selection([], ["skipped: default-slim: no tag is supported on 2031-11-01"])


def _flavored_matrix(build_date: date = date(2026, 11, 24)) -> Matrix:
    return _matrix(build_date, {"fastapi": ["fastapi==1.0"], "starlette": ["starlette==1.0"]})


def test_a_flavor_is_named_flavor_colon_tag() -> None:
    chosen = select(_flavored_matrix(), ["fastapi:python3.11-slim", "starlette:latest", "python3.13"])
    assert [image.name for image in chosen] == ["python3.13", "fastapi:python3.11-slim", "starlette:python3.11"]
    assert [image.target for image in chosen] == ["python3_13", "fastapi-python3_11-slim", "starlette-python3_11"]
    assert [image.name for image in select(_flavored_matrix(), ["fastapi:default-slim"])] == ["fastapi:python3.11-slim"]


def test_nothing_named_selects_the_whole_family_bases_first() -> None:
    names = [image.name for image in select(_flavored_matrix(), [])]
    assert names[:4] == ["python3.11", "python3.11-slim", "python3.13", "python3.13-slim"]
    assert len(names) == 12
    assert names[4] == "fastapi:python3.11"


def test_an_unknown_flavor_lists_the_valid_flavors() -> None:
    with pytest.raises(SelectionError) as error:
        select(_flavored_matrix(), ["django:python3.11"])
    assert str(error.value) == "unknown flavor 'django' in 'django:python3.11'; valid flavors: fastapi, starlette"
    with pytest.raises(SelectionError, match=r"unknown tag 'fastapi:python2.7'; valid tags: .*for the flavors fastapi"):
        select(_flavored_matrix(), ["fastapi:python2.7"])


def test_a_retired_flavor_tag_is_skipped_like_its_base() -> None:
    selection = select_current(_flavored_matrix(date(2027, 11, 1)), ["fastapi:python3.11-slim", "fastapi:python3.13"])
    assert [image.name for image in selection.images] == ["fastapi:python3.13"]
    assert selection.skipped == [
        "skipped: fastapi:python3.11-slim is retired: python 3.11 reached end of life on 2027-10-31"
    ]


def test_publishing_a_flavor_names_its_base_too() -> None:
    assert with_base_names(["fastapi:python3.11-slim", "python3.13", "starlette:python3.11-slim"]) == [
        "python3.11-slim",
        "fastapi:python3.11-slim",
        "python3.13",
        "starlette:python3.11-slim",
    ]
