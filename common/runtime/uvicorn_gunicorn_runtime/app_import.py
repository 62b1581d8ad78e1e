"""Importing the application named by the settings, each way it can fail said in one line
that names the setting and its value."""

from __future__ import annotations

import importlib
import traceback

from uvicorn_gunicorn_runtime.discovery import AppTarget
from uvicorn_gunicorn_runtime.environment import SettingError


def load_app(app: AppTarget) -> object:
    """The application object, or SettingError naming the variables that chose it."""
    try:
        module = importlib.import_module(app.module)
    except (Exception, SystemExit) as error:
        raise SettingError(import_failure(app.describe(), app.module, error)) from None
    if not hasattr(module, app.variable):
        raise SettingError(f"{app.describe()}: module {app.module!r} has no attribute {app.variable!r}")
    application = getattr(module, app.variable)
    if app.factory:
        try:
            application = application()
        except (Exception, SystemExit) as error:
            raise SettingError(f"{app.describe()}: calling {app.variable}() failed: {one_line(error)}") from None
    if not callable(application):
        raise SettingError(f"{app.describe()}: {app.spec!r} is not callable, so it is not an ASGI application")
    return application


def import_failure(named_by: str, module: str, error: BaseException) -> str:
    if isinstance(error, ModuleNotFoundError) and _is_part_of(error.name, module):
        return f"{named_by}: no module named {error.name!r}"
    return f"{named_by}: importing {module!r} failed: {one_line(error)}"


def _is_part_of(missing: str | None, module: str) -> bool:
    """Whether the module not found is `module` or a package above it (not one it imports)."""
    return missing is not None and (module == missing or module.startswith(missing + "."))


def one_line(error: BaseException) -> str:
    frame = traceback.extract_tb(error.__traceback__)[-1] if error.__traceback__ else None
    where = f" ({frame.filename}, line {frame.lineno})" if frame else ""
    if isinstance(error, SystemExit):
        what = f"it called sys.exit({error.code!r})"
    else:
        what = f"{type(error).__name__}: {error}"
    return f"{what}{where}".replace("\n", " ")
