"""Scans of the project's own Python sources for something done outside its one module."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from bake.paths import REPO_ROOT


def python_sources() -> list[Path]:
    """Every Python file of the build system, its tools and its tests."""
    return [
        REPO_ROOT / "noxfile.py",
        *sorted((REPO_ROOT / "bake").rglob("*.py")),
        *sorted((REPO_ROOT / "devtools").rglob("*.py")),
        *sorted((REPO_ROOT / "tests").rglob("*.py")),
    ]


def matching_lines(path: Path, matches: Callable[[str], bool], root: Path = REPO_ROOT) -> list[str]:
    """`PATH line N: TEXT` of each line of `path` that `matches`."""
    return [
        f"{path.relative_to(root)} line {number}: {line.strip()}"
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if matches(line)
    ]


def found_outside(owners: tuple[str, ...], matches: Callable[[str], bool]) -> list[str]:
    """The matching lines of every source but the files named `owners` (the module and its test)."""
    return [line for path in python_sources() if path.name not in owners for line in matching_lines(path, matches)]
