"""Which Gunicorn, Uvicorn and uvicorn-worker run beside an application's virtual environment,
and whether they can: the environment comes first on sys.path, so its own copies run where it
has them, and the image's run with the environment's copies of whatever they need.

Two mixes cannot run, each refused in one line before a worker starts:
  - the environment's own server package older (major.minor) than the image's, which the
    image's runtime is built and tested with (uvicorn 0.36 with the image's runtime: every
    worker died in a loop on a Server attribute it lacks);
  - a package the environment has where the image's server package, which runs, needs
    another version (the image's uvicorn needs websockets>=13.0; an old SDK pinned 10.4).
Only `>=`, `>`, `<=`, `<`, `==` and `!=` between release numbers are checked: what the server
stack's own requirements use. A requirement applies where the image has installed that
package, which is how pip evaluated its markers and extras when the image was built.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from importlib import metadata

from uvicorn_gunicorn_runtime.environment import SettingError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from uvicorn_gunicorn_runtime.virtual_env import VirtualEnv

REQUIREMENT = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*\(?([^;()]*)\)?\s*(?:;.*)?")
SPECIFIER = re.compile(r"\s*(>=|<=|==|!=|>|<)\s*([0-9][0-9.]*)\s*")
COMPARE = {
    ">=": lambda found, bound: found >= bound,
    ">": lambda found, bound: found > bound,
    "<=": lambda found, bound: found <= bound,
    "<": lambda found, bound: found < bound,
    "==": lambda found, bound: found == bound,
    "!=": lambda found, bound: found != bound,
}


@dataclass(frozen=True)
class Installed:
    name: str
    version: str
    location: str  # the directory on sys.path it was found in
    requires: tuple[str, ...]


def release(version: str) -> tuple[int, ...]:
    """The release numbers at the start of a version: 0.21.0rc1 -> (0, 21, 0)."""
    numbers = re.match(r"[0-9]+(?:\.[0-9]+)*", version)
    return tuple(int(part) for part in numbers.group(0).split(".")) if numbers else ()


def _padded(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    width = max(len(a), len(b))
    return a + (0,) * (width - len(a)), b + (0,) * (width - len(b))


def violations(requirement: str, version: str) -> list[str]:
    """The parts of `requirement`'s specifier that `version` does not meet."""
    match = REQUIREMENT.fullmatch(requirement)
    failed = []
    for specifier in match.group(2).split(",") if match else []:
        part = SPECIFIER.fullmatch(specifier)
        if part is not None:
            found, bound = _padded(release(version), release(part.group(2)))
            if not COMPARE[part.group(1)](found, bound):
                failed.append(f"{part.group(1)}{part.group(2)}")
    return failed


def installed(name: str, paths: Sequence[str]) -> Installed | None:
    """The first installation of `name` on `paths`, as an import would find it."""
    for distribution in metadata.distributions(name=name, path=list(paths)):
        location = os.path.realpath(str(distribution.locate_file("")))
        return Installed(name, distribution.version, location, tuple(distribution.requires or ()))
    return None


def _is_under(location: str, directory: str) -> bool:
    return location.startswith(os.path.realpath(directory) + os.sep)


def check(environment: VirtualEnv, names: Iterable[str], search_path: Sequence[str], image: Sequence[str]) -> None:
    """SettingError, in one line, for a mix of `environment`'s packages and the image's server
    packages `names` that cannot run (see the module's docstring)."""
    for name in names:
        running, own = installed(name, search_path), installed(name, image)
        if running is None or own is None:
            continue
        if _is_under(running.location, environment.path):
            if release(running.version)[:2] < release(own.version)[:2]:
                raise SettingError(
                    f"{environment.describe()} has {name} {running.version}; this image's server needs {name}"
                    f" {'.'.join(map(str, release(own.version)[:2]))} or later (its own is {own.version}):"
                    f" upgrade it there, or remove it and the image's runs"
                )
            continue
        for requirement in own.requires:
            _check_requirement(environment, name, own, requirement, search_path, image)


def _check_requirement(
    environment: VirtualEnv, name: str, own: Installed, requirement: str, search_path: Sequence[str],
    image: Sequence[str],
) -> None:  # fmt: skip
    match = REQUIREMENT.fullmatch(requirement)
    if match is None or installed(match.group(1), image) is None:
        return  # not a requirement the image's build installed
    needed = installed(match.group(1), search_path)
    if needed is None or not _is_under(needed.location, environment.path):
        return
    failed = violations(requirement, needed.version)
    if failed:
        raise SettingError(
            f"{environment.describe()} has {needed.name} {needed.version}, which comes first; the image's"
            f" {name} {own.version} needs {needed.name}{','.join(failed)}: upgrade it there"
        )


def origins(environment: VirtualEnv, names: Iterable[str], search_path: Sequence[str]) -> dict[str, str]:
    """Each server package that runs, its version and whose it is, for the settings line."""
    stack = {}
    for name in names:
        running = installed(name, search_path)
        if running is None:
            continue
        if _is_under(running.location, environment.path):
            stack[name] = f"{running.version} from {environment.path}: the virtual environment's own comes first"
        else:
            stack[name] = f"{running.version} from the image: the virtual environment has none"
    return stack
