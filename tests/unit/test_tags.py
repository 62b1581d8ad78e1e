from __future__ import annotations

import pytest

from bake.matrix import DebianSuite, Image
from bake.tags import TagError, dated_tags, image_references, moving_tags, validate_date

SUITE = DebianSuite("bookworm", ())
PLATFORMS = ("linux/amd64",)


def _image(variant: str, is_default: bool = True) -> Image:
    return Image("3.11", variant, SUITE, PLATFORMS, is_default)


def test_latest_goes_only_to_the_default_full_image() -> None:
    assert moving_tags(_image("full")) == ["python3.11", "latest"]
    assert moving_tags(_image("slim")) == ["python3.11-slim"]
    assert moving_tags(_image("full", is_default=False)) == ["python3.11"]


def test_dated_tags_never_include_latest() -> None:
    assert dated_tags(_image("full"), "2026-11-24") == ["python3.11-2026-11-24"]


def test_references_carry_the_image_name() -> None:
    assert image_references(_image("slim"), "docker.io/acme/uvicorn-gunicorn", "2026-11-24") == [
        "docker.io/acme/uvicorn-gunicorn:python3.11-slim",
        "docker.io/acme/uvicorn-gunicorn:python3.11-slim-2026-11-24",
    ]
    assert image_references(_image("slim"), "uvicorn-gunicorn", None) == ["uvicorn-gunicorn:python3.11-slim"]


@pytest.mark.parametrize("value", ["2026-11-24", "2024-02-29"])
def test_valid_dates(value: str) -> None:
    assert validate_date(value) == value


@pytest.mark.parametrize("value", ["24-11-2026", "2026-11-24T00:00", "2026-02-30", "", "latest"])
def test_invalid_dates_name_the_setting(value: str) -> None:
    with pytest.raises(TagError, match=r"^DATE="):
        validate_date(value)


def test_an_invalid_date_names_the_setting_it_came_from() -> None:
    with pytest.raises(TagError, match=r"^--date='2027-13-01' is not a calendar date$"):
        validate_date("2027-13-01", "--date")
