"""Typed, checked reads of environment variables.

A bad value raises SettingError with one line naming the variable and the value. The health
check and every worker import this module, so it imports nothing beyond `re`.
"""

from __future__ import annotations

import re

TYPE_CHECKING = False  # typing and collections would cost every health check milliseconds
if TYPE_CHECKING:
    from collections.abc import Mapping

# Each pattern is used with fullmatch: `$` alone would let a trailing newline through.
# Patterns of variables that are often unset: compiled on first use, by re's own cache.
# Plain ASCII digits: int() and float() would also take " 8 ", "+3", "1_000" and "1e3". At
# most 20 of them, well below the length at which int() refuses a string.
WHOLE_NUMBER = r"[0-9]{1,20}"
DECIMAL = r"[0-9]{1,20}\.?[0-9]{0,20}|\.[0-9]{1,20}"
# It goes into the health check's request line as written: printable ASCII, no space.
HEALTHCHECK_PATH_FORM = r"/[!-~]*"
# A path as the application sees it (decoded, without the query): no space, no comma.
EXCLUDED_PATH_FORM = r"/[^\s,]*"


class SettingError(ValueError):
    """A setting has a value the server cannot start with."""


def invalid(name: str, value: str, expected: str) -> SettingError:
    """The error for variable `name` set to `value`, and what it should have been."""
    return SettingError(f"{name}={value!r} is not valid: expected {expected}")


def decimal_times(decimal: str, whole: int) -> int:
    """decimal x whole, rounded down, for a decimal as DECIMAL takes it, without float error:
    0.57 x 100 is 57, where the float product 56.99999999999999 would truncate to 56."""
    integral, _, fraction = decimal.partition(".")
    scale: int = 10 ** len(fraction)
    return int(integral + fraction) * whole // scale


class Environment:
    """Typed, checked reads of environment variables; empty counts as unset."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ

    def text(self, name: str) -> str | None:
        value = self._environ.get(name, "")
        return value if value != "" else None

    def raw(self, name: str, default: str) -> str:
        """The value as given, empty included (ACCESS_LOG= means off)."""
        return self._environ.get(name, default)

    def integer(self, name: str, default: int, minimum: int, maximum: int | None = None) -> int:
        value = self.optional_integer(name, minimum, maximum)
        return default if value is None else value

    def optional_integer(self, name: str, minimum: int, maximum: int | None = None) -> int | None:
        value = self.text(name)
        if value is None:
            return None
        expected = f"a whole number from {minimum}" + (f" to {maximum}" if maximum is not None else " up")
        if not re.fullmatch(WHOLE_NUMBER, value):
            raise invalid(name, value, expected)
        number = int(value)
        if number < minimum or (maximum is not None and number > maximum):
            raise invalid(name, value, expected)
        return number

    def positive_decimal(self, name: str, default: str) -> str:
        """The value as written, checked: digits with at most one point, above 0."""
        value = self.text(name)
        if value is None:
            return default
        if not re.fullmatch(DECIMAL, value) or not value.strip("0."):
            raise invalid(name, value, "a number above 0, such as 0.5 or 3")
        return value

    def seconds_up_to_one(self, name: str, default: str) -> float:
        """A number of seconds from 0 to 1, as digits with at most one point."""
        value = self.text(name)
        if value is None:
            return float(default)
        if not re.fullmatch(DECIMAL, value) or float(value) > 1:
            raise invalid(name, value, "a number of seconds from 0 to 1, such as 0.5")
        return float(value)

    def boolean(self, name: str, default: bool) -> bool:
        """true or false, in any case."""
        return self.choice(name, "true" if default else "false", ("true", "false")) == "true"

    def choice(self, name: str, default: str, choices: tuple[str, ...]) -> str:
        """One of `choices`, in any case."""
        value = self.text(name)
        if value is None:
            return default
        if value.lower() not in choices:
            raise invalid(name, value, f"one of {', '.join(choices)}")
        return value.lower()


# Settings that processes other than the launcher read again, by the same rules: the workers
# (ACCESS_LOG_FLUSH_SECONDS, ACCESS_LOG_EXCLUDE_PATHS) and the health check (HEALTHCHECK_PATH)
# need no more than this module.


def access_log_flush_seconds(env: Environment) -> float:
    """ACCESS_LOG_FLUSH_SECONDS: how long an access line may wait in a batch (see access_log);
    0 writes each line at once. Read by the launcher at start, and again by each worker's handlers."""
    return env.seconds_up_to_one("ACCESS_LOG_FLUSH_SECONDS", "0.5")


def healthcheck_path(env: Environment) -> str | None:
    """HEALTHCHECK_PATH: the path the health check asks; None asks / and takes any answer."""
    value = env.text("HEALTHCHECK_PATH")
    if value is not None and not re.fullmatch(HEALTHCHECK_PATH_FORM, value):
        raise invalid("HEALTHCHECK_PATH", value, "a path starting with /, such as /health, in ASCII without spaces")
    return value


def access_log_exclude_paths(env: Environment) -> tuple[str, ...]:
    """ACCESS_LOG_EXCLUDE_PATHS: comma-separated paths whose requests write no access line,
    each matched whole against the request's path (without the query). Read by the launcher
    at start, and again by each worker's access layer."""
    value = env.text("ACCESS_LOG_EXCLUDE_PATHS")
    if value is None:
        return ()
    paths = tuple(path.strip() for path in value.split(","))
    if not all(re.fullmatch(EXCLUDED_PATH_FORM, path) for path in paths):
        raise invalid(
            "ACCESS_LOG_EXCLUDE_PATHS", value, "comma-separated paths, each starting with /, such as /health,/metrics"
        )
    return paths
