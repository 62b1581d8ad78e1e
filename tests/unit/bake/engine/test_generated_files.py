"""Files generated from images/matrix.toml hold the matrix of the date they record, and
`generate` rewrites them for any later date, after any end of life, without an error."""

from __future__ import annotations

import shutil
from datetime import date, timedelta
from pathlib import Path

import pytest

from bake.core.matrix import load_matrix
from bake.engine.generated import COMMITTED_FILES, GeneratedFile, generate, generated_for, is_current
from bake.engine.hcl import bake_targets, render_bake_file
from bake.engine.readme import ReadmeError, render_tag_sections, with_tag_sections
from bake.paths import BAKE_FILE, FLAVOR_DOCKERFILE, MATRIX_FILE, README

GENERATED_ON = date(2026, 11, 24)


def _recorded_date(path: Path) -> date:
    recorded = generated_for(path.read_text())
    assert recorded is not None, f"{path.name} records no date; run: nox -s generate"
    return recorded


def _end_of_life_dates() -> list[date]:
    return sorted({version.eol for version in load_matrix(date.max).retired})


# The day after each end of life in the data file, and the two days the brief names.
DATES = sorted({eol + timedelta(days=1) for eol in _end_of_life_dates()} | {date(2027, 11, 1), date(2031, 11, 1)})


def test_both_committed_files_record_the_same_date() -> None:
    assert _recorded_date(BAKE_FILE) == _recorded_date(README)


def test_bake_file_holds_the_matrix_of_its_recorded_date() -> None:
    assert BAKE_FILE.read_text() == render_bake_file(load_matrix(_recorded_date(BAKE_FILE))), "run: nox -s generate"


def test_readme_tag_sections_hold_the_matrix_of_their_recorded_date() -> None:
    readme = README.read_text()
    assert readme == with_tag_sections(readme, load_matrix(_recorded_date(README))), "run: nox -s generate"


def test_every_image_is_a_target_with_its_official_base() -> None:
    matrix = load_matrix(_recorded_date(BAKE_FILE))
    text = render_bake_file(matrix)
    assert bake_targets(text) == {"_built", "_image", "_flavor", *(image.target for image in matrix.family)}
    for image in matrix.images:
        assert f'BASE_IMAGE     = "{image.official_base}"' in text


def test_each_flavor_target_is_built_from_its_base_target() -> None:
    """One bake builds base and flavor in order: the flavor's `base` context is the base's target."""
    matrix = load_matrix(_recorded_date(BAKE_FILE))
    text = render_bake_file(matrix)
    assert matrix.flavored, "images/matrix.toml defines flavors"
    for image in matrix.flavored:
        assert image.flavor is not None
        block = text[text.index(f'target "{image.target}" {{') :].split("\n}\n", 1)[0]
        assert f'contexts  = {{ base = "target:{image.base_image.target}" }}' in block
        assert f'REQUIREMENTS   = "{" ".join(image.flavor.requirements)}"' in block
        # Its framework stage starts FROM the tag's python base, whose CPython it installs for.
        assert f'BASE_IMAGE     = "{image.official_base}"' in block
        assert f'PYTHON_VERSION = "{image.python}"' in block
    assert "FROM base\n" in FLAVOR_DOCKERFILE.read_text()


def test_tag_sections_list_supported_and_retired_versions() -> None:
    text = render_tag_sections(load_matrix(date(2026, 11, 24)))
    assert text.startswith("<!-- Generated from images/matrix.toml for 2026-11-24 by `nox -s generate`")
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


def test_with_every_version_retired_the_files_still_render() -> None:
    matrix = load_matrix(date(2031, 11, 1))
    bake_file = render_bake_file(matrix)
    assert "targets = []" in bake_file
    assert bake_targets(bake_file) == {"_built", "_image", "_flavor"}
    sections = render_tag_sections(matrix)
    assert "None: on 2031-11-01 every version in images/matrix.toml is past its end of life." in sections
    assert "| 3.15 | 2031-10-31 | none published by this project |" in sections


@pytest.fixture
def copies(tmp_path: Path) -> tuple[GeneratedFile, ...]:
    """Copies of the committed files, generated for GENERATED_ON."""
    files = []
    for committed in COMMITTED_FILES:
        shutil.copy(committed.path, tmp_path / committed.name)
        files.append(GeneratedFile(tmp_path / committed.name, committed.render))
    assert generate(GENERATED_ON, check=False, files=files) == 0
    return tuple(files)


def _retired_since(generated_on: date, build_date: date) -> list[str]:
    return [version.python for version in load_matrix(build_date).retired if version.eol > generated_on]


@pytest.mark.parametrize("build_date", DATES, ids=str)
def test_check_after_an_end_of_life_says_so_in_one_line_and_passes(
    build_date: date, copies: tuple[GeneratedFile, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert generate(build_date, check=True, files=copies) == 0
    captured = capsys.readouterr()
    stale = [line for line in captured.err.splitlines() if line.startswith("stale: ")]
    if _retired_since(GENERATED_ON, build_date):
        assert len(stale) == 1
        assert stale[0].startswith(f"stale: docker-bake.hcl and README.md were generated for {GENERATED_ON}; since")
        assert all(version in stale[0] for version in _retired_since(GENERATED_ON, build_date))
        assert stale[0].endswith("; run: nox -s generate")
    else:
        assert stale == []
        assert captured.err == "docker-bake.hcl is up to date\nREADME.md is up to date\n"


@pytest.mark.parametrize("build_date", DATES, ids=str)
def test_generate_after_an_end_of_life_writes_that_dates_matrix(
    build_date: date, copies: tuple[GeneratedFile, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert generate(build_date, check=False, files=copies) == 0
    captured = capsys.readouterr()
    retired = [
        f"retired: {version}; no longer built"
        for version in load_matrix(build_date).retired
        if version.eol > GENERATED_ON
    ]
    assert [line for line in captured.err.splitlines() if line.startswith("retired: ")] == retired
    matrix = load_matrix(build_date)
    moved = matrix.retired_default is not None and matrix.images
    assert any(line.startswith("latest: ") for line in captured.err.splitlines()) == bool(moved)
    for file in copies:
        assert generated_for(file.path.read_text()) == (build_date if retired else GENERATED_ON)
        assert is_current(file)
    assert generate(build_date, check=True, files=copies) == 0
    assert capsys.readouterr().err == "docker-bake.hcl is up to date\nREADME.md is up to date\n"


def test_generate_keeps_the_date_when_only_the_date_would_change(
    copies: tuple[GeneratedFile, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    before = [file.path.read_text() for file in copies]
    capsys.readouterr()
    assert generate(date(2027, 10, 30), check=False, files=copies) == 0
    assert [file.path.read_text() for file in copies] == before
    assert "nothing has changed since" in capsys.readouterr().err


def test_an_edit_of_the_data_file_without_generate_fails_the_check(
    copies: tuple[GeneratedFile, ...], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edited = tmp_path / "matrix.toml"
    edited.write_text(
        MATRIX_FILE.read_text().replace('platforms = ["linux/amd64", "linux/arm64"]', 'platforms = ["linux/amd64"]')
    )
    assert edited.read_text() != MATRIX_FILE.read_text()
    capsys.readouterr()
    assert generate(GENERATED_ON, check=True, files=copies, matrix_file=edited) == 1
    assert capsys.readouterr().err == (
        "error: docker-bake.hcl is out of date with images/matrix.toml; run: nox -s generate\n"
        "error: README.md is out of date with images/matrix.toml; run: nox -s generate\n"
    )
    assert not is_current(copies[0], edited)
