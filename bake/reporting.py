"""How the command lines (`python -m bake`, `python -m bake.bench`) end on an error: a user's
mistake or a failed docker call is one line on stderr and an exit code, never a traceback."""

from __future__ import annotations

import sys
from collections.abc import Callable

from python_on_whales import DockerException

from bake.attestations import AttestationError
from bake.base_digest import RegistryReadError
from bake.ca_bundle import CaBundleError
from bake.date_tag import DateTagError
from bake.debian_sources import MirrorError
from bake.hcl import BakeFileError
from bake.matrix import MatrixError
from bake.publish import PublishError
from bake.readme import ReadmeError
from bake.selection import SelectionError
from bake.settings import SettingsError
from bake.signing import SigningError
from bake.standin import StandinError


class UsageError(ValueError):
    """A command-line argument has a value no command accepts."""


USER_ERRORS: tuple[type[Exception], ...] = (
    AttestationError,
    BakeFileError,
    CaBundleError,
    DateTagError,
    MatrixError,
    MirrorError,
    PublishError,
    ReadmeError,
    RegistryReadError,
    SelectionError,
    SettingsError,
    SigningError,
    StandinError,
    UsageError,
)


def reporting_errors(command: Callable[[], int], more_user_errors: tuple[type[Exception], ...] = ()) -> int:
    """Runs `command`; a user's mistake or a failed docker call becomes one line on stderr and an exit code."""
    user_errors: tuple[type[Exception], ...] = (*USER_ERRORS, *more_user_errors)
    try:
        return command()
    except user_errors as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except DockerException as error:
        print(
            f"error: `{' '.join(error.docker_command[:4])} ...` failed with exit code {error.return_code}",
            file=sys.stderr,
        )
        return 1
