"""What a run says once the calendar has passed an end of life in images/matrix.toml.

Nothing fails because time passed: a retired version is left out, `latest` moves on, and
each of these is one line on standard error (standard output stays what the command makes).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from bake.core.matrix import Matrix

GENERATE_COMMAND = "nox -s generate"


def retired_lines(matrix: Matrix, generated_for: date | None) -> list[str]:
    """One line for each version retired after the generated files' date (all of them when it
    is unknown): the versions whose retirement those files do not show yet."""
    return [
        f"retired: {version}; no longer built"
        for version in matrix.retired
        if generated_for is None or version.eol > generated_for
    ]


def latest_line(matrix: Matrix) -> str | None:
    """Says where `latest` went when `default_python` is retired and another version is left."""
    retired = matrix.retired_default
    if retired is None or matrix.latest_python is None:
        return None
    return (
        f"latest: default_python {retired.python} reached end of life on {retired.eol}; latest is "
        f"python {matrix.latest_python} now, the newest supported version (set default_python in images/matrix.toml)"
    )


def nothing_left_line(matrix: Matrix) -> str:
    if matrix.images:
        return "nothing left to build: every tag named is retired"
    return (
        f"nothing left to build: on {matrix.build_date} every python version in images/matrix.toml "
        "is past its end of life"
    )


def _listing(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def calendar_changes(generated: Matrix, now: Matrix) -> list[str]:
    """What changed between the generated files' date and `now`'s: retirements, a moved `latest`."""
    if now.build_date <= generated.build_date:
        return []
    newly_retired = [version for version in now.retired if version.eol > generated.build_date]
    changes = []
    if len(newly_retired) == 1:
        changes.append(str(newly_retired[0]))
    elif newly_retired:
        changes.append(f"python {_listing([version.python for version in newly_retired])} reached end of life")
    if now.latest_python not in (None, generated.latest_python):
        changes.append(f"latest moved to python {now.latest_python}")
    return changes


def stale_line(generated: Matrix | None, now: Matrix, file_names: Sequence[str]) -> str | None:
    """One line when generated files lag the calendar; `generated` is the matrix of their
    recorded date (None: they record none)."""
    files, one = _listing(file_names), len(file_names) == 1
    if generated is None:
        records = "records no date it was" if one else "record no date they were"
        return f"stale: {files} {records} generated for; run: {GENERATE_COMMAND}"
    changes = calendar_changes(generated, now)
    if not changes:
        return None
    return (
        f"stale: {files} {'was' if one else 'were'} generated for {generated.build_date}; "
        f"since then {_listing(changes)}; run: {GENERATE_COMMAND}"
    )
