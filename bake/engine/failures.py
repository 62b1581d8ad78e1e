"""A docker call that fails ends a command like any other error of the build system: one line
naming the call and its exit code (the engine's own output already said why)."""

from __future__ import annotations

from collections.abc import Callable

from python_on_whales import DockerException

from bake.errors import BakeError, reporting_errors


class DockerCallFailed(BakeError):
    """A docker command the build system ran failed."""

    exit_code = 1


def _docker_failures_raised(command: Callable[[], int]) -> int:
    try:
        return command()
    except DockerException as error:
        called = " ".join(error.docker_command[:4])
        raise DockerCallFailed(f"`{called} ...` failed with exit code {error.return_code}") from None


def reporting_failures(command: Callable[[], int]) -> int:
    """Runs `command`; any error of the build system, a failed docker call included, becomes
    one line on standard error and its exit code."""
    return reporting_errors(lambda: _docker_failures_raised(command))
