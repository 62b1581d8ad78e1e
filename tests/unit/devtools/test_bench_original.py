"""The original image's sources found, and its Dockerfile pointed at the base under test."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from devtools.bench.original import IMAGES_FOLDER, OriginalSourcesError, find_sources, on_base

# Made up for the test, in the shape of the original's: one stage, pip in a shell-form RUN.
DOCKERFILE = """FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1
COPY requirements.txt /tmp/requirements.txt
RUN pip install -r /tmp/requirements.txt
RUN --mount=type=cache,target=/root/.cache true
RUN ["true"]
CMD ["/start.sh"]
"""


def test_the_one_from_names_the_base_and_shell_runs_get_the_ca_bundle() -> None:
    built = on_base(DOCKERFILE, "standin/python:3.11-slim", "python:3.11-slim")
    assert built.splitlines() == [
        "FROM standin/python:3.11-slim",
        "ENV PYTHONUNBUFFERED=1",
        "COPY requirements.txt /tmp/requirements.txt",
        "RUN --mount=type=secret,id=pip-ca,required=true export PIP_CERT=/run/secrets/pip-ca && "
        "pip install -r /tmp/requirements.txt",
        "RUN --mount=type=cache,target=/root/.cache true",  # flags of its own: left as it is
        'RUN ["true"]',
        'CMD ["/start.sh"]',
    ]


@pytest.mark.parametrize(
    ("dockerfile", "message"),
    [
        (DOCKERFILE.replace("3.11", "3.10"), "builds FROM python:3.10-slim, expected python:3.11-slim"),
        (DOCKERFILE + "FROM scratch\n", "has 2 FROM lines, expected one"),
    ],
)
def test_another_python_or_more_stages_are_refused(dockerfile: str, message: str) -> None:
    with pytest.raises(OriginalSourcesError, match=message):
        on_base(dockerfile, "standin/python:3.11-slim", "python:3.11-slim")


def test_no_sources_is_one_line_naming_the_variable() -> None:
    with pytest.raises(OriginalSourcesError, match=r"^ORIGINAL_IMAGE_SOURCES is not set: set it"):
        find_sources(None)


def test_a_path_without_the_sources_is_refused_naming_the_value(tmp_path: Path) -> None:
    (tmp_path / "other").mkdir()
    with pytest.raises(OriginalSourcesError, match=rf"^ORIGINAL_IMAGE_SOURCES='{tmp_path}' is not valid: expected"):
        find_sources(str(tmp_path))


def _git(*args: str, cwd: Path) -> str:
    command = ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args]
    return subprocess.run(command, cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def test_a_clone_is_found_at_its_head_under_a_directory_of_clones(tmp_path: Path) -> None:
    work = tmp_path / "work"
    (work / IMAGES_FOLDER).mkdir(parents=True)
    (work / IMAGES_FOLDER / "python3.11-slim.dockerfile").write_text(DOCKERFILE)
    _git("init", "-q", cwd=work)
    _git("add", ".", cwd=work)
    _git("commit", "-q", "-m", "x", cwd=work)
    mirror = tmp_path / "mirror" / "tiangolo+uvicorn-gunicorn-docker" / "repo"
    _git("clone", "-q", "--bare", str(work), str(mirror), cwd=tmp_path)
    found = find_sources(str(tmp_path / "mirror"))
    assert (found.path, found.commit) == (mirror, _git("rev-parse", "HEAD", cwd=work))
    assert find_sources(str(work)).commit == found.commit


def test_a_plain_copy_is_taken_without_a_commit(tmp_path: Path) -> None:
    (tmp_path / IMAGES_FOLDER).mkdir()
    found = find_sources(str(tmp_path))
    assert (found.path, found.commit) == (tmp_path, None)
