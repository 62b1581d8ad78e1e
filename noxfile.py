"""Tasks of the project: `nox -s build`, `nox -s test -- TAG`, `nox -s unit`, ...

The image matrix lives in images/matrix.toml; the Python in bake/ does the work and
these sessions only give it an environment with the pinned tools.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nox

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bake's stdlib-only modules, for tag checks

from bake.matrix import load_matrix, utc_today
from bake.selection import SelectionError, select

nox.options.sessions = ["lint", "unit"]
nox.options.reuse_venv = "yes"
nox.options.error_on_missing_interpreters = True

PYPROJECT = nox.project.load_toml("pyproject.toml")


def _install(session: nox.Session, group: str) -> None:
    session.install(*nox.project.dependency_groups(PYPROJECT, group))


# pytest options whose value is the next argument, which is then not a tag.
PYTEST_OPTIONS_WITH_VALUE = {"-k", "-m"}


def _split_tags(session: nox.Session) -> tuple[list[str], list[str]]:
    """Positional arguments that are not options are tags; options go to the tool."""
    tags: list[str] = []
    options: list[str] = []
    for arg in session.posargs:
        takes_value = bool(options) and options[-1] in PYTEST_OPTIONS_WITH_VALUE
        (options if arg.startswith("-") or takes_value else tags).append(arg)
    try:
        select(load_matrix(), tags)
    except SelectionError as error:
        session.error(str(error))
    return tags, options


@nox.session
def generate(session: nox.Session) -> None:
    """Write docker-bake.hcl from images/matrix.toml."""
    _install(session, "build")
    session.run("python", "-m", "bake", "generate")


@nox.session
def plan(session: nox.Session) -> None:
    """Print every target with its base, platforms and tags, without building."""
    tags, options = _split_tags(session)
    _install(session, "build")
    session.run("python", "-m", "bake", "plan", *tags, *options)


@nox.session
def build(session: nox.Session) -> None:
    """Build the named tags (default: all) for all their platforms and load them."""
    tags, options = _split_tags(session)
    _install(session, "build")
    session.run("python", "-m", "bake", "build", *tags, *options)


@nox.session
def unit(session: nox.Session) -> None:
    """Unit tests of bake/; no Docker engine needed."""
    _install(session, "test")
    session.run("pytest", "tests/unit", *session.posargs)


def _fix_date(session: nox.Session) -> None:
    """One date per run, for every target and every step, even across midnight."""
    session.env["DATE"] = os.environ.get("DATE") or utc_today().isoformat()


def _build_and_test(session: nox.Session, tags: list[str], options: list[str]) -> list[str]:
    """Builds the named tags (default: all buildable here) and tests them; returns the tags."""
    matrix = load_matrix()
    if tags:
        chosen = [image.tag for image in select(matrix, tags)]
    else:
        listed = session.run("python", "-m", "bake", "select", "--buildable", silent=True)
        chosen = str(listed).split()
    session.run("python", "-m", "bake", "build", *chosen)
    emulated_too = {image.tag for image in matrix.images if image.is_default and image.variant == "slim"}
    for tag in chosen:
        scope = [] if tags or tag in emulated_too or "--all-platforms" in options else ["--native-only"]
        session.run(
            "pytest",
            "tests/image",
            "-v",
            f"--tag={tag}",
            *scope,
            *options,
            env={"TESTCONTAINERS_RYUK_DISABLED": "true"},
        )
    return chosen


@nox.session
def test(session: nox.Session) -> None:
    """Build and check the named tags on all their platforms (an emulated one runs a
    representative subset; --all-platforms runs everything everywhere). With no tag: every
    tag buildable here on this machine's platform, plus the default slim tag emulated."""
    tags, options = _split_tags(session)
    _fix_date(session)
    _install(session, "test")
    _build_and_test(session, tags, options)


@nox.session
def publish(session: nox.Session) -> None:
    """Build, test, then push exactly the tested images with their date tags:
    nox -s publish -- --to=docker.io/acme/uvicorn-gunicorn [TAG ...] [--dry-run]"""
    tags, options = _split_tags(session)
    publish_options = [option for option in options if option.startswith(("--to=", "--dry-run"))]
    _fix_date(session)
    _install(session, "test")
    chosen = _build_and_test(session, tags, [option for option in options if option not in publish_options])
    session.run("python", "-m", "bake", "publish", *chosen, *publish_options)


@nox.session
def describe(session: nox.Session) -> None:
    """Set a Docker Hub repository's description to the README: nox -s describe -- NAMESPACE/NAME
    (needs DOCKERHUB_API, DOCKERHUB_USERNAME and DOCKERHUB_TOKEN)."""
    _install(session, "test")
    session.run("python", "-m", "bake", "describe", *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    """Measure throughput, tuning under limits, start-up, memory, size and build cost, and
    write docs/benchmarks.md: nox -s bench [-- --short] [TAG]"""
    _install(session, "bench")
    session.run("python", "-m", "bake.bench", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """Static checks: ruff and mypy."""
    _install(session, "lint")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("mypy")
