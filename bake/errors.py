"""The one error model of the build system and its tools: every error they raise for a user's
mistake or a failed step derives from `BakeError`, carries its exit code, and ends a command
as one line on standard error (never a traceback). Standard library only."""

from __future__ import annotations

from collections.abc import Callable

from bake import progress


class BakeError(Exception):
    """What the user gave cannot be used, or a step failed; the message says which and why."""

    exit_code = 2


class UsageError(BakeError):
    """A command-line argument has a value no command accepts."""


def reporting_errors(command: Callable[[], int]) -> int:
    """Runs `command`; a `BakeError` becomes `error: MESSAGE` on standard error and its exit code."""
    try:
        return command()
    except BakeError as failure:
        progress.report_error(str(failure))
        return failure.exit_code
