"""The build settings a run reads from its environment once: IMAGE_NAME, DATE and BASE.

Every command takes them from here (the CLI, the build, publishing, the image tests, the
bench); an option such as `--date` overrides one and is named in any error instead of the
variable. Standard library only: the bare release plan job reads them too.
"""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from enum import StrEnum

from bake.errors import BakeError

DEFAULT_IMAGE_NAME = "uvicorn-gunicorn"
DATE_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# A repository as docker names it: optional registry host[:port], then lowercase path components.
REPOSITORY_PATTERN = re.compile(
    r"^(?:[A-Za-z0-9.-]+(?::\d+)?/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$"
)


class SettingsError(BakeError):
    """A build setting has a value no command accepts."""


class BaseMode(StrEnum):
    AUTO = "auto"  # the official image when a registry answers for it, else a stand-in
    OFFICIAL = "official"
    STANDIN = "standin"


def utc_today() -> date:
    """Today in UTC: the build date when none is given, the same on every runner."""
    return datetime.now(UTC).date()


def parse_date(value: str, setting: str = "DATE") -> date:
    """`value` as a date YYYY-MM-DD; `setting` is what the user gave it as, for the message."""
    try:
        if DATE_PATTERN.match(value):
            return date.fromisoformat(value)
    except ValueError:
        pass
    raise SettingsError(f"{setting}={value!r} is not valid: expected YYYY-MM-DD")


def parse_image_name(value: str, setting: str = "IMAGE_NAME") -> str:
    if not REPOSITORY_PATTERN.match(value):
        raise SettingsError(
            f"{setting}={value!r} is not valid: expected a repository such as {DEFAULT_IMAGE_NAME} "
            f"or registry.example/acme/{DEFAULT_IMAGE_NAME}, without a tag"
        )
    return value


def parse_base_mode(value: str, setting: str = "BASE") -> BaseMode:
    try:
        return BaseMode(value)
    except ValueError:
        expected = ", ".join(mode.value for mode in BaseMode)
        raise SettingsError(f"{setting}={value!r} is not valid: expected one of {expected}") from None


@dataclass(frozen=True)
class Settings:
    image_name: str
    build_date: date
    base_mode: BaseMode

    @property
    def date_tag(self) -> str:
        """The build date as it shows in date tags."""
        return self.build_date.isoformat()

    def overridden(
        self, image_name: str | None = None, build_date: str | None = None, base_mode: str | None = None
    ) -> Settings:
        """These settings with the options given on a command line (None: not given) in place."""
        changed = self
        if image_name is not None:
            changed = replace(changed, image_name=parse_image_name(image_name, "--image-name"))
        if build_date is not None:
            changed = replace(changed, build_date=parse_date(build_date, "--date"))
        if base_mode is not None:
            changed = replace(changed, base_mode=parse_base_mode(base_mode, "--base"))
        return changed


def settings_from_environment(
    environ: Mapping[str, str] = os.environ, today: Callable[[], date] = utc_today
) -> Settings:
    """The settings of this run; an unset or empty variable takes its default."""
    given_date = environ.get("DATE")
    return Settings(
        image_name=parse_image_name(environ.get("IMAGE_NAME") or DEFAULT_IMAGE_NAME),
        build_date=parse_date(given_date) if given_date else today(),
        base_mode=parse_base_mode(environ.get("BASE") or BaseMode.AUTO.value),
    )


def add_date_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--date", help="the build date, YYYY-MM-DD: of the date tags, and whose matrix is built "
                        "(env DATE; default today, UTC)")  # fmt: skip


def add_setting_options(parser: argparse.ArgumentParser) -> None:
    """The README's build settings as options: each overrides its variable for every step of the run."""
    parser.add_argument(
        "--image-name",
        help=f"repository of the tags, with any registry prefix (env IMAGE_NAME; default {DEFAULT_IMAGE_NAME})",
    )
    add_date_option(parser)
    parser.add_argument("--base", help="base images: auto, official or standin (env BASE; default auto)")


def settings_of(args: argparse.Namespace, environ: Mapping[str, str] = os.environ) -> Settings:
    """The run's settings: the environment's, with the options of `add_setting_options` given in `args` in place."""
    return settings_from_environment(environ).overridden(
        getattr(args, "image_name", None), getattr(args, "date", None), getattr(args, "base", None)
    )


def environment_of(settings: Settings) -> dict[str, str]:
    """The variables that give `settings` to a command run from this one (tests, the bench's builds)."""
    return {"IMAGE_NAME": settings.image_name, "DATE": settings.date_tag, "BASE": settings.base_mode.value}
