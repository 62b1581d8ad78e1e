from __future__ import annotations

from datetime import date

import pytest

from bake.matrix import Matrix, parse_matrix
from bake.selection import SelectionError, select, valid_tags


@pytest.fixture
def matrix() -> Matrix:
    return parse_matrix(
        {
            "default_python": "3.11",
            "platforms": ["linux/amd64"],
            "variants": ["full", "slim"],
            "python": [{"version": "3.11", "eol": "2027-10-31"}, {"version": "3.13", "eol": "2029-10-31"}],
            "debian": {},
        },
        date(2026, 11, 24),
    )


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
        "unknown tag 'python2.7'; valid tags: python3.11, latest, python3.11-slim, python3.13, python3.13-slim"
    )
    assert "\n" not in str(error.value)
    assert valid_tags(matrix) == ["python3.11", "latest", "python3.11-slim", "python3.13", "python3.13-slim"]
