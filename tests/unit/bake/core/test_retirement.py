"""The one-line notices of a run after an end of life: retired, latest moved, nothing left, stale."""

from __future__ import annotations

from datetime import date
from typing import Any

from bake.core.matrix import Matrix, parse_matrix
from bake.core.retirement import calendar_changes, latest_line, nothing_left_line, retired_lines, stale_line

FILES = ["docker-bake.hcl", "README.md"]


def _matrix(build_date: date) -> Matrix:
    data: dict[str, Any] = {
        "default_python": "3.11",
        "platforms": ["linux/amd64"],
        "variants": ["full", "slim"],
        "python": [
            {"version": "3.10", "eol": "2026-10-31"},
            {"version": "3.11", "eol": "2027-10-31"},
            {"version": "3.12", "eol": "2028-10-31"},
        ],
        "debian": {},
    }
    return parse_matrix(data, build_date)


GENERATED = _matrix(date(2026, 11, 24))


def test_only_versions_retired_since_the_generated_files_get_a_line() -> None:
    assert retired_lines(_matrix(date(2027, 11, 1)), date(2026, 11, 24)) == [
        "retired: python 3.11 reached end of life on 2027-10-31; no longer built"
    ]
    assert retired_lines(_matrix(date(2027, 11, 1)), None) == [
        "retired: python 3.10 reached end of life on 2026-10-31; no longer built",
        "retired: python 3.11 reached end of life on 2027-10-31; no longer built",
    ]
    assert retired_lines(GENERATED, date(2026, 11, 24)) == []


def test_latest_line_only_while_the_default_is_retired_and_something_is_left() -> None:
    assert latest_line(GENERATED) is None
    assert latest_line(_matrix(date(2027, 11, 1))) == (
        "latest: default_python 3.11 reached end of life on 2027-10-31; latest is python 3.12 now, "
        "the newest supported version (set default_python in images/matrix.toml)"
    )
    assert latest_line(_matrix(date(2028, 11, 1))) is None


def test_nothing_left_says_whether_the_matrix_or_the_named_tags_ran_out() -> None:
    assert nothing_left_line(_matrix(date(2028, 11, 1))) == (
        "nothing left to build: on 2028-11-01 every python version in images/matrix.toml is past its end of life"
    )
    assert nothing_left_line(GENERATED) == "nothing left to build: every tag named is retired"


def test_stale_line_names_the_files_what_changed_and_the_command() -> None:
    assert stale_line(GENERATED, _matrix(date(2027, 11, 1)), FILES) == (
        "stale: docker-bake.hcl and README.md were generated for 2026-11-24; since then python 3.11 reached "
        "end of life on 2027-10-31 and latest moved to python 3.12; run: nox -s generate"
    )
    assert stale_line(GENERATED, _matrix(date(2028, 11, 1)), FILES) == (
        "stale: docker-bake.hcl and README.md were generated for 2026-11-24; since then python 3.11 and 3.12 "
        "reached end of life; run: nox -s generate"
    )


def test_no_stale_line_without_an_end_of_life_since_or_for_an_earlier_date() -> None:
    assert stale_line(GENERATED, _matrix(date(2027, 10, 30)), FILES) is None
    assert stale_line(GENERATED, _matrix(date(2026, 1, 1)), FILES) is None
    assert calendar_changes(GENERATED, GENERATED) == []


def test_files_without_a_recorded_date_are_stale() -> None:
    assert stale_line(None, GENERATED, FILES) == (
        "stale: docker-bake.hcl and README.md record no date they were generated for; run: nox -s generate"
    )
    assert stale_line(None, GENERATED, FILES[:1]) == (
        "stale: docker-bake.hcl records no date it was generated for; run: nox -s generate"
    )
