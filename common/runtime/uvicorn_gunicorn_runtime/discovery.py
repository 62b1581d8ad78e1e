"""What the server runs, found from the environment and the files under /app: the application
(APP_MODULE, else MODULE_NAME and VARIABLE_NAME, else /app/app/main.py or /app/main.py) and
the Gunicorn configuration file (GUNICORN_CONF, else the first candidate that exists)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import NamedTuple

from uvicorn_gunicorn_runtime.environment import Environment, SettingError, invalid

# Each pattern is used with fullmatch: `$` alone would let a trailing newline through.
DOTTED_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
IMAGE_GUNICORN_CONF = "/gunicorn_conf.py"
GUNICORN_CONF_CANDIDATES = ("/app/gunicorn_conf.py", "/app/app/gunicorn_conf.py", IMAGE_GUNICORN_CONF)


class AppTarget(NamedTuple):
    module: str
    variable: str
    # The variables the target came from, for error messages: ("APP_MODULE",) or ("MODULE_NAME", "VARIABLE_NAME").
    named_by: tuple[str, ...]
    # `main:create_app()`, Gunicorn's (and so the original image's) form: the variable is a
    # factory, called without arguments, that returns the application.
    factory: bool = False

    @property
    def spec(self) -> str:
        return f"{self.module}:{self.variable}" + ("()" if self.factory else "")

    def describe(self) -> str:
        if self.named_by == ("APP_MODULE",):
            return f"APP_MODULE={self.spec!r}"
        return f"MODULE_NAME={self.module!r} VARIABLE_NAME={self.spec.partition(':')[2]!r}"


def _parse_app_module(value: str) -> AppTarget:
    module, separator, variable = value.partition(":")
    name = variable.removesuffix("()")
    if not separator or not DOTTED_NAME.fullmatch(module) or not IDENTIFIER.fullmatch(name):
        raise invalid("APP_MODULE", value, "module:variable, such as main:app, or module:factory()")
    return AppTarget(module, name, ("APP_MODULE",), factory=name != variable)


def _default_module(exists: Callable[[str], bool]) -> str:
    if exists("/app/app/main.py"):
        return "app.main"
    if exists("/app/main.py"):
        return "main"
    raise SettingError(
        "no application found: neither /app/app/main.py nor /app/main.py exists; set APP_MODULE or MODULE_NAME"
    )


def discover_app(env: Environment, exists: Callable[[str], bool]) -> AppTarget:
    """The application to serve; `exists` says whether a file is there (the tests pass their own)."""
    explicit = env.text("APP_MODULE")
    if explicit is not None:
        return _parse_app_module(explicit)
    module = env.text("MODULE_NAME") or _default_module(exists)
    if not DOTTED_NAME.fullmatch(module):
        raise invalid("MODULE_NAME", module, "a module name such as app.main")
    variable = env.text("VARIABLE_NAME") or "app"
    name = variable.removesuffix("()")
    if not IDENTIFIER.fullmatch(name):
        raise invalid("VARIABLE_NAME", variable, "a Python identifier such as app, or factory()")
    return AppTarget(module, name, ("MODULE_NAME", "VARIABLE_NAME"), factory=name != variable)


def gunicorn_conf(env: Environment, exists: Callable[[str], bool]) -> str | None:
    """The Gunicorn configuration file to run; None when there is none at all."""
    explicit = env.text("GUNICORN_CONF")
    if explicit is not None:
        if not exists(explicit):
            raise invalid("GUNICORN_CONF", explicit, "the path of an existing file")
        return explicit
    return next((path for path in GUNICORN_CONF_CANDIDATES if exists(path)), None)
