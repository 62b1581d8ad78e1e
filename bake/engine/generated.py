"""The files generated from images/matrix.toml: docker-bake.hcl and the README's tag sections.

Each records the date it was generated for and holds the matrix of that date: a unit test
checks that, so an edit of images/matrix.toml without `nox -s generate` fails it, while the
calendar passing an end of life does not; runs then say so in one line instead.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

from bake.core.matrix import Matrix, load_matrix
from bake.core.retirement import GENERATE_COMMAND, latest_line, retired_lines, stale_line
from bake.engine.hcl import render_bake_file
from bake.engine.readme import with_tag_sections
from bake.paths import BAKE_FILE, MATRIX_FILE, README
from bake.progress import report_error, say

GENERATED_FOR = re.compile(r"Generated from images/matrix\.toml for (\d{4}-\d{2}-\d{2}) by ")


@dataclass(frozen=True)
class GeneratedFile:
    path: Path
    render: Callable[[str, Matrix], str]  # (its current text, a matrix) -> the text it should have

    @property
    def name(self) -> str:
        return self.path.name

    def read(self) -> str:
        return self.path.read_text() if self.path.exists() else ""


def _render_bake_file(current: str, matrix: Matrix) -> str:
    return render_bake_file(matrix)


COMMITTED_FILES = (GeneratedFile(BAKE_FILE, _render_bake_file), GeneratedFile(README, with_tag_sections))


def generated_for(text: str) -> date | None:
    """The date a generated text records; None when it records none."""
    match = GENERATED_FOR.search(text)
    if match is None:
        return None
    try:
        return date.fromisoformat(match.group(1))
    except ValueError:
        return None


def matrix_of(file: GeneratedFile, matrix_file: Path = MATRIX_FILE) -> Matrix | None:
    """The matrix of the date `file` was generated for; None when it records no date."""
    recorded = generated_for(file.read())
    return load_matrix(recorded, matrix_file) if recorded else None


def generated_matrix(files: Sequence[GeneratedFile], matrix_file: Path = MATRIX_FILE) -> Matrix | None:
    """The matrix of the earliest date the files were generated for; None when one records no date."""
    matrices = [matrix_of(file, matrix_file) for file in files]
    dated = [matrix for matrix in matrices if matrix is not None]
    if len(dated) < len(matrices):
        return None
    return min(dated, key=lambda matrix: matrix.build_date)


def is_current(file: GeneratedFile, matrix_file: Path = MATRIX_FILE) -> bool:
    """`file` holds exactly the rendering of the matrix of the date it records."""
    then = matrix_of(file, matrix_file)
    current = file.read()
    return then is not None and current == file.render(current, then)


def _same_but_date(then: Matrix, now: Matrix) -> bool:
    return replace(then, build_date=now.build_date) == now


def _check(files: Sequence[GeneratedFile], now: Matrix, matrix_file: Path) -> int:
    out_of_date = [file for file in files if not is_current(file, matrix_file)]
    for file in out_of_date:
        report_error(f"{file.name} is out of date with images/matrix.toml; run: {GENERATE_COMMAND}")
    consistent = [file for file in files if file not in out_of_date]
    then = generated_matrix(consistent, matrix_file) if consistent else None
    line = stale_line(then, now, [file.name for file in consistent]) if then else None
    if line:
        say(line)
    else:
        for file in consistent:
            say(f"{file.name} is up to date")
    return 1 if out_of_date else 0


def _write(files: Sequence[GeneratedFile], now: Matrix, matrix_file: Path) -> int:
    generated = generated_matrix(files, matrix_file)
    notices = [*retired_lines(now, generated.build_date if generated else None), latest_line(now)]
    for notice in filter(None, notices):
        say(notice)
    for file in files:
        current, then = file.read(), matrix_of(file, matrix_file)
        if then is not None and current == file.render(current, then) and _same_but_date(then, now):
            # Only the recorded date would change: the file keeps it, and no diff is made.
            say(f"{file.name} is up to date (generated for {then.build_date}; nothing has changed since)")
            continue
        file.path.write_text(file.render(current, now))
        say(f"wrote {file.name} for {now.build_date}")
    return 0


def generate(
    build_date: date, check: bool, files: Sequence[GeneratedFile] = COMMITTED_FILES, matrix_file: Path = MATRIX_FILE
) -> int:
    """Writes `files` for the matrix of `build_date` (with `check`: only says whether they are
    current); returns the exit code. Lagging the calendar is said in one line, never an error."""
    now = load_matrix(build_date, matrix_file)
    return _check(files, now, matrix_file) if check else _write(files, now, matrix_file)
