"""Which virtual environment the server runs under, and when it cannot: on directories made
here, shaped as venv, uv and virtualenv (Poetry) make them."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from uvicorn_gunicorn_runtime import virtual_env
from uvicorn_gunicorn_runtime.environment import SettingError
from uvicorn_gunicorn_runtime.virtual_env import (
    IMAGE_SITE_PACKAGES,
    RUNTIME_DIRECTORY,
    VirtualEnv,
    add_image_packages,
    find_virtual_env,
    running_python,
    server_environment,
)

HERE = running_python()
OTHER = "3.9.18" if not HERE.startswith("3.9.") else "3.12.1"


def make_venv(path: Path, version: str = HERE, key: str = "version", interpreter: str = sys.executable) -> Path:
    (path / "bin").mkdir(parents=True)
    (path / "pyvenv.cfg").write_text(f"home = {Path(interpreter).parent}\ninclude-system-site-packages = false\n"
                                     f"{key} = {version}\n")  # fmt: skip
    (path / "bin" / "python").symlink_to(interpreter)
    return path


def search_path(*directories: str) -> str:
    """A PATH (or PYTHONPATH) of these directories."""
    return ":".join(directories)


def find(environ: dict[str, str], root: Path) -> VirtualEnv | None:
    return find_virtual_env(environ, app_venv=str(root / "app" / ".venv"), image_prefix=str(root / "usr" / "local"))


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """An image's /usr/local/bin with a python, as PATH holds it."""
    image_bin = tmp_path / "usr" / "local" / "bin"
    image_bin.mkdir(parents=True)
    (image_bin / "python").symlink_to(sys.executable)
    return tmp_path


def test_no_virtual_environment_is_none(root: Path) -> None:
    assert find({"PATH": search_path(f"{root}/usr/local/bin", "/usr/bin")}, root) is None


def test_virtual_env_names_it(root: Path) -> None:
    venv = make_venv(root / "opt" / "venv")
    found = find({"VIRTUAL_ENV": str(venv), "PATH": f"{root}/usr/local/bin"}, root)
    assert found == VirtualEnv(str(venv), "VIRTUAL_ENV", HERE, str(Path(sys.executable).parent))


def test_a_virtual_env_that_is_none_is_one_line(root: Path) -> None:
    with pytest.raises(SettingError) as raised:
        find({"VIRTUAL_ENV": str(root / "nowhere")}, root)
    assert str(raised.value) == (
        f"VIRTUAL_ENV='{root}/nowhere' is not valid: expected the directory of a virtual environment"
        f" (no {root}/nowhere/pyvenv.cfg)"
    )


def test_a_venv_first_on_path_is_used_as_uvs_docker_guide_sets_it(root: Path) -> None:
    venv = make_venv(root / "app" / ".venv", version=f"{HERE}.final.0", key="version_info")  # virtualenv's form
    found = find({"PATH": search_path(f"{venv}/bin", f"{root}/usr/local/bin")}, root)
    assert found is not None and (found.path, found.found_by, found.version) == (str(venv), "PATH", HERE)


def test_a_venv_after_the_images_python_on_path_is_not_active(root: Path) -> None:
    venv = make_venv(root / "opt" / "venv")
    assert find({"PATH": search_path(f"{root}/usr/local/bin", f"{venv}/bin")}, root) is None


def test_the_images_own_python_environment_is_not_the_applications(root: Path) -> None:
    """The stand-in bases' /usr/local is itself a virtual environment."""
    (root / "usr" / "local" / "pyvenv.cfg").write_text(f"home = /usr/bin\nversion = {HERE}\n")
    assert find({"PATH": search_path(f"{root}/usr/local/sbin", f"{root}/usr/local/bin", "/usr/bin")}, root) is None


def test_app_venv_is_used_without_path(root: Path) -> None:
    venv = make_venv(root / "app" / ".venv")
    found = find({"PATH": f"{root}/usr/local/bin"}, root)
    assert found is not None and (found.path, found.found_by) == (str(venv), "/app/.venv")


def test_a_venv_of_another_python_named_on_path_is_one_error_naming_both(root: Path) -> None:
    venv = make_venv(root / "app" / ".venv", version=OTHER, interpreter="/usr/local/bin/python3.99")
    with pytest.raises(SettingError) as raised:
        find({"PATH": search_path(f"{venv}/bin", f"{root}/usr/local/bin")}, root)
    message = str(raised.value)
    assert message.startswith(f"the virtual environment {venv} (first on PATH) was made by Python {OTHER}")
    assert "(/usr/local/bin, which is not in this image)" in message
    assert f"this image runs Python {HERE} ({os.path.realpath(sys.executable)})" in message
    assert "\n" not in message


def test_the_same_version_with_a_missing_interpreter_cannot_run(root: Path) -> None:
    """A developer's own .venv copied in: the version may match, its interpreter is elsewhere."""
    venv = make_venv(root / "opt" / "venv", interpreter="/opt/homebrew/bin/python3")
    with pytest.raises(SettingError, match="which is not in this image"):
        find({"VIRTUAL_ENV": str(venv)}, root)


def test_an_app_venv_found_only_by_its_place_is_left_aside_with_a_warning(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """As the original image ignored it: a copied-in .venv must not stop an app that ran before."""
    make_venv(root / "app" / ".venv", version=OTHER, interpreter="/usr/local/bin/python3.99")
    assert find({"PATH": f"{root}/usr/local/bin"}, root) is None
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"warning: the virtual environment {root}/app/.venv (found at /app/.venv) was made by")
    assert line.endswith("left aside: set VIRTUAL_ENV or put its bin/ on PATH to use it")


def test_the_servers_environment_adds_the_runtime_after_the_applications_paths() -> None:
    environment = server_environment({"PYTHONPATH": "/app:/app/src", "PATH": "/app/.venv/bin:/usr/bin"})
    assert environment["PYTHONPATH"] == search_path("/app", "/app/src", RUNTIME_DIRECTORY)
    assert environment["PATH"] == "/app/.venv/bin:/usr/bin"
    assert environment[IMAGE_SITE_PACKAGES]
    assert server_environment({})["PYTHONPATH"] == RUNTIME_DIRECTORY


def test_the_images_packages_go_last_on_sys_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "extra.pth").write_text(f"{tmp_path / 'from-pth'}\n")
    (tmp_path / "from-pth").mkdir()
    monkeypatch.setattr(sys, "path", list(sys.path))
    before = list(sys.path)
    add_image_packages({IMAGE_SITE_PACKAGES: str(tmp_path)})
    assert sys.path[: len(before)] == before
    assert sys.path[len(before) :] == [str(tmp_path), str(tmp_path / "from-pth")]
    add_image_packages({})
    assert len(sys.path) == len(before) + 2


def test_the_launcher_becomes_itself_under_the_environments_python(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    venv = make_venv(root / "opt" / "venv")
    calls: list[tuple[str, list[str], dict[str, str]]] = []
    monkeypatch.setattr(os, "execve", lambda path, argv, env: calls.append((path, argv, env)))
    found = find({"VIRTUAL_ENV": str(venv)}, root)
    assert found is not None and not virtual_env.runs_here(found)
    virtual_env.exec_under(found, ["--reload"], {"PYTHONPATH": "/app"})
    ((path, argv, env),) = calls
    assert path == f"{venv}/bin/python"
    assert argv == [path, "-m", "uvicorn_gunicorn_runtime.launch", "--reload"]
    assert env["PYTHONPATH"] == search_path("/app", RUNTIME_DIRECTORY)
