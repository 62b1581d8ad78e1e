"""The application's virtual environment, where it has one (uv's `uv sync`, Poetry's in-project
venv, `python -m venv` in a multi-stage build), and the interpreter the server runs under.

Which virtual environment, first rule that applies:
  1. VIRTUAL_ENV, when set: it must be one.
  2. The first directory on PATH that is a virtual environment's bin/, before any other
     directory holding a `python` (uv's Docker guide puts /app/.venv/bin first on PATH). The
     image's own Python (/usr/local, itself a virtual environment in the stand-in bases) is none.
  3. /app/.venv, where uv and Poetry make a project's environment, when it was made from this
     image's Python; one made elsewhere (a developer's own .venv copied in with the
     application) is left aside with one warning line, as the original image ignored it.

The server then runs under that environment's own interpreter, so that its packages, and
its sys.prefix and sys.executable, are the application's; the image's runtime comes on
PYTHONPATH, and the image's packages go last on sys.path, for whatever the environment
lacks: the environment's own Gunicorn or Uvicorn, if it has them, come first and run.
An environment made by another Python than the image's cannot run here: one error line.

Standard library only: the launcher reads this before it imports anything of the server.
"""

from __future__ import annotations

import os
import site
import sys
from pathlib import Path
from typing import NamedTuple

from uvicorn_gunicorn_runtime.environment import SettingError, invalid

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

APP_VENV = "/app/.venv"
# The image's Python, which /start.sh runs the launcher with, and its prefix.
IMAGE_PYTHON = "/usr/local/bin/python"
IMAGE_PREFIX = "/usr/local"
CONFIG_FILE = "pyvenv.cfg"
# Set for the server's own interpreter: the image's site-packages, appended to its sys.path.
IMAGE_SITE_PACKAGES = "UVICORN_GUNICORN_IMAGE_SITE_PACKAGES"
RUNTIME_DIRECTORY = str(Path(__file__).resolve().parent.parent)


class VirtualEnv(NamedTuple):
    path: str
    found_by: str  # "VIRTUAL_ENV", "PATH" or "/app/.venv"
    version: str  # the Python version its pyvenv.cfg records
    made_by: str  # the interpreter it was made from (its `home` directory), as recorded

    @property
    def python(self) -> str:
        return f"{self.path}/bin/python"

    def describe(self) -> str:
        return f"the virtual environment {self.path} ({self._how_found()})"

    def _how_found(self) -> str:
        return {"VIRTUAL_ENV": "VIRTUAL_ENV", "PATH": "first on PATH"}.get(self.found_by, "found at /app/.venv")


def read_config(path: str) -> dict[str, str]:
    """pyvenv.cfg's `key = value` lines; an unreadable file reads as empty."""
    try:
        with open(f"{path}/{CONFIG_FILE}", encoding="utf-8") as file:
            lines = file.read().splitlines()
    except (OSError, UnicodeDecodeError):
        return {}
    pairs = (line.partition("=") for line in lines)
    return {key.strip().lower(): value.strip() for key, separator, value in pairs if separator}


def _environment(path: str, found_by: str) -> VirtualEnv:
    config = read_config(path)
    # venv writes `version`, uv and virtualenv (Poetry) `version_info` (3.11.2.final.0 in virtualenv).
    recorded = config.get("version") or config.get("version_info") or "unknown"
    version = ".".join(recorded.split(".")[:3])
    return VirtualEnv(path, found_by, version, config.get("home", "unknown"))


def _is_virtual_env(path: str) -> bool:
    return os.path.isfile(f"{path}/{CONFIG_FILE}")


def _on_path(environ: Mapping[str, str], image_prefix: str) -> str | None:
    """The virtual environment whose bin/ comes first on PATH, before any other `python`."""
    for directory in environ.get("PATH", "").split(":"):
        if not directory:
            continue
        bin_directory = os.path.normpath(directory)
        parent = os.path.dirname(bin_directory)
        if os.path.basename(bin_directory) == "bin" and parent != image_prefix and _is_virtual_env(parent):
            return parent
        if os.access(f"{bin_directory}/python", os.X_OK):
            return None
    return None


def find_virtual_env(
    environ: Mapping[str, str], app_venv: str = APP_VENV, image_prefix: str = IMAGE_PREFIX
) -> VirtualEnv | None:
    """The application's virtual environment by the rules above; SettingError for a VIRTUAL_ENV
    that is none, or an environment named by VIRTUAL_ENV or PATH that this Python cannot run."""
    named = environ.get("VIRTUAL_ENV", "")
    if named:
        if not _is_virtual_env(named):
            raise invalid("VIRTUAL_ENV", named, f"the directory of a virtual environment (no {named}/{CONFIG_FILE})")
        return checked(_environment(os.path.normpath(named), "VIRTUAL_ENV"))
    found = _on_path(environ, image_prefix)
    if found is not None:
        return checked(_environment(found, "PATH"))
    if not _is_virtual_env(app_venv):
        return None
    environment = _environment(app_venv, APP_VENV)
    try:
        return checked(environment)
    except SettingError as error:
        print(f"warning: {error}; left aside: set VIRTUAL_ENV or put its bin/ on PATH to use it", file=sys.stderr)
        return None


def running_python() -> str:
    return ".".join(map(str, sys.version_info[:3]))


def checked(environment: VirtualEnv) -> VirtualEnv:
    """The environment, if its interpreter is this image's Python; else SettingError naming both."""
    interpreter = os.path.realpath(environment.python)
    same_version = environment.version.split(".")[:2] == running_python().split(".")[:2]
    if same_version and os.access(interpreter, os.X_OK):
        return environment
    missing = "" if os.path.exists(interpreter) else ", which is not in this image"
    raise SettingError(
        f"{environment.describe()} was made by Python {environment.version} ({environment.made_by}{missing});"
        f" this image runs Python {running_python()} ({os.path.realpath(sys.executable)}):"
        " make it FROM this image, with this image's python"
    )


def runs_here(environment: VirtualEnv) -> bool:
    """Whether this process is already that environment's interpreter."""
    return os.path.realpath(sys.prefix) == os.path.realpath(environment.path)


def server_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The environment for the server under the virtual environment's interpreter: the image's
    runtime on PYTHONPATH (after the application's own entries), the image's site-packages named."""
    import sysconfig

    paths = [path for path in environ.get("PYTHONPATH", "").split(":") if path]
    image_packages = dict.fromkeys([sysconfig.get_path("purelib"), sysconfig.get_path("platlib")])
    return {
        **environ,
        "PYTHONPATH": ":".join(dict.fromkeys([*paths, RUNTIME_DIRECTORY])),
        IMAGE_SITE_PACKAGES: ":".join(image_packages),
    }


def image_packages(environ: Mapping[str, str]) -> list[str]:
    """The image's site-packages, as the launcher named them for the environment's interpreter."""
    return [directory for directory in environ.get(IMAGE_SITE_PACKAGES, "").split(":") if directory]


def add_image_packages(environ: Mapping[str, str]) -> None:
    """Puts the image's site-packages last on sys.path (their .pth files included), for what the
    virtual environment lacks; nothing when the server runs under the image's own Python."""
    for directory in image_packages(environ):
        if directory not in sys.path:
            site.addsitedir(directory)


def exec_under(environment: VirtualEnv, arguments: list[str], environ: Mapping[str, str]) -> None:
    """Becomes the launcher again, under the environment's interpreter (the same process: PID 1)."""
    command = [environment.python, "-m", "uvicorn_gunicorn_runtime.launch", *arguments]
    try:
        os.execve(environment.python, command, server_environment(environ))
    except OSError as error:
        raise SettingError(f"{environment.describe()}: {environment.python} cannot run: {error}") from None
