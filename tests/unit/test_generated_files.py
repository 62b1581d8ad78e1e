"""Files generated from images/matrix.toml are committed up to date."""

from __future__ import annotations

from datetime import date

import pytest

from bake.hcl import BAKE_FILE, render_bake_file
from bake.matrix import load_matrix
from bake.readme import README, ReadmeError, render_tag_sections, with_tag_sections


def test_bake_file_is_up_to_date() -> None:
    assert BAKE_FILE.read_text() == render_bake_file(load_matrix()), "run: nox -s generate"


def test_readme_tag_sections_are_up_to_date() -> None:
    assert README.read_text() == with_tag_sections(README.read_text(), load_matrix()), "run: nox -s generate"


def test_every_image_is_a_target_with_its_official_base() -> None:
    text = render_bake_file(load_matrix())
    for image in load_matrix().images:
        assert f'target "{image.target}" {{' in text
        assert f'BASE_IMAGE     = "{image.official_base}"' in text


def test_tag_sections_list_supported_and_retired_versions() -> None:
    text = render_tag_sections(load_matrix(date(2026, 11, 24)))
    assert "| `python3.11`, `latest` | `python:3.11` | stand-in from Debian bookworm |" in text
    assert "| `python3.12-slim` | `python:3.12-slim` | needs a registry |" in text
    assert "| 3.10 | 2026-10-31 | none published by this project |" in text


def test_sections_replace_only_the_text_between_the_markers() -> None:
    readme = "intro\n<!-- tags:begin -->\nold\n<!-- tags:end -->\nrest\n"
    updated = with_tag_sections(readme, load_matrix(date(2026, 11, 24)))
    assert updated.startswith("intro\n<!-- tags:begin -->\n<!-- Generated")
    assert updated.endswith("<!-- tags:end -->\nrest\n")
    assert "old" not in updated
    with pytest.raises(ReadmeError):
        with_tag_sections("no markers\n", load_matrix(date(2026, 11, 24)))
