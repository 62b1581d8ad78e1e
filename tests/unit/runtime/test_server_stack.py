"""Which server packages run beside a virtual environment, and the mixes refused: on site-packages
directories made here with the metadata pip and uv write."""

from __future__ import annotations

from pathlib import Path

import pytest
from uvicorn_gunicorn_runtime.environment import SettingError
from uvicorn_gunicorn_runtime.server_stack import check, origins, release, violations
from uvicorn_gunicorn_runtime.virtual_env import VirtualEnv

STACK = ("gunicorn", "uvicorn", "uvicorn-worker")
UVICORN_REQUIRES = (
    "click>=7.0",
    "h11>=0.8",
    "typing-extensions>=4.0; python_version < '3.11'",
    "websockets>=13.0; extra == 'standard'",
)


def install(site: Path, name: str, version: str, requires: tuple[str, ...] = ()) -> None:
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    lines = [
        "Metadata-Version: 2.1",
        f"Name: {name}",
        f"Version: {version}",
        *(f"Requires-Dist: {r}" for r in requires),
    ]
    (info / "METADATA").write_text("\n".join(lines) + "\n")


@pytest.fixture
def image(tmp_path: Path) -> Path:
    """The image's site-packages: its server stack and what uvicorn[standard] pulled in."""
    site = tmp_path / "image" / "site-packages"
    install(site, "gunicorn", "27.0.1")
    install(site, "uvicorn", "0.54.0", UVICORN_REQUIRES)
    install(site, "uvicorn-worker", "0.4.0", ("gunicorn>=21.0.0", "uvicorn>=0.36.0"))
    for name, version in (("click", "8.3.0"), ("h11", "0.16.0"), ("websockets", "15.0.1")):
        install(site, name, version)
    return site


@pytest.fixture
def venv(tmp_path: Path) -> tuple[VirtualEnv, Path]:
    path = tmp_path / "app" / ".venv"
    site = path / "lib" / "python3.11" / "site-packages"
    site.mkdir(parents=True)
    return VirtualEnv(str(path), "PATH", "3.11.2", "/usr/local/bin"), site


def test_release_numbers_and_bounds() -> None:
    assert release("0.21.0rc1") == (0, 21, 0)
    assert violations("websockets>=13.0; extra == 'standard'", "10.4") == [">=13.0"]
    assert violations("websockets>=13.0", "13") == []
    assert violations("h11 (>=0.8,<1)", "1.0.0") == ["<1"]
    assert violations("packaging~=23.0", "1.0") == []  # not an operator the stack uses: not checked


def test_the_images_stack_runs_with_an_environment_that_lacks_it(image: Path, venv: tuple[VirtualEnv, Path]) -> None:
    environment, site = venv
    install(site, "fastapi", "0.165.0")
    install(site, "h11", "0.14.0")  # uvicorn needs >=0.8: fine
    check(environment, STACK, [str(site), str(image)], [str(image)])
    assert origins(environment, STACK, [str(site), str(image)]) == {
        "gunicorn": "27.0.1 from the image: the virtual environment has none",
        "uvicorn": "0.54.0 from the image: the virtual environment has none",
        "uvicorn-worker": "0.4.0 from the image: the virtual environment has none",
    }


def test_the_environments_own_uvicorn_comes_first_and_is_said(image: Path, venv: tuple[VirtualEnv, Path]) -> None:
    environment, site = venv
    install(site, "uvicorn", "0.55.1")
    check(environment, STACK, [str(site), str(image)], [str(image)])
    stack = origins(environment, STACK, [str(site), str(image)])
    assert stack["uvicorn"] == f"0.55.1 from {environment.path}: the virtual environment's own comes first"


@pytest.mark.parametrize(
    ("name", "version", "message"),
    [
        pytest.param(
            "uvicorn",
            "0.36.0",
            "has uvicorn 0.36.0; this image's server needs uvicorn 0.54 or later (its own is 0.54.0):"
            " upgrade it there, or remove it and the image's runs",
            id="its own uvicorn, older than the image's",
        ),
        pytest.param(
            "websockets",
            "10.4",
            "has websockets 10.4, which comes first; the image's uvicorn 0.54.0 needs websockets>=13.0:"
            " upgrade it there",
            id="a package the image's uvicorn needs newer",
        ),
    ],
)
def test_a_mix_that_cannot_run_is_one_line(
    image: Path, venv: tuple[VirtualEnv, Path], name: str, version: str, message: str
) -> None:
    environment, site = venv
    install(site, name, version)
    with pytest.raises(SettingError) as raised:
        check(environment, STACK, [str(site), str(image)], [str(image)])
    assert str(raised.value) == f"the virtual environment {environment.path} (first on PATH) {message}"


def test_a_requirement_the_images_build_left_out_is_not_checked(image: Path, venv: tuple[VirtualEnv, Path]) -> None:
    """typing-extensions applies below Python 3.11 only: the image has none, so its marker was false."""
    environment, site = venv
    install(site, "typing-extensions", "3.7.4")
    check(environment, STACK, [str(site), str(image)], [str(image)])


def test_the_environments_uvicorn_is_checked_against_the_images_uvicorn_worker(
    image: Path, venv: tuple[VirtualEnv, Path]
) -> None:
    environment, site = venv
    install(site, "uvicorn", "0.54.2")
    check(environment, STACK, [str(site), str(image)], [str(image)])
    install(site, "gunicorn", "20.1.0")
    with pytest.raises(SettingError, match=r"has gunicorn 20\.1\.0; this image's server needs gunicorn 27\.0 or later"):
        check(environment, STACK, [str(site), str(image)], [str(image)])
