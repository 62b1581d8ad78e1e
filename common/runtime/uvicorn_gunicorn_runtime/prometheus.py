"""PROMETHEUS_MULTIPROC_DIR: prometheus_client's multi-process mode, made ready before the
server starts. prometheus_client keeps each process's values in files there; files of an
earlier run would be added to this run's totals, and a dead worker's live gauges stay until
it is marked dead (Gunicorn's child_exit hook, see gunicorn_server)."""

from __future__ import annotations

import os
from importlib.util import find_spec

from uvicorn_gunicorn_runtime.environment import SettingError

VARIABLE = "PROMETHEUS_MULTIPROC_DIR"


def client_installed() -> bool:
    return find_spec("prometheus_client") is not None


def prepare_directory(directory: str) -> None:
    """Creates the directory if missing and deletes the *.db files prometheus_client wrote
    there, nothing else (it may be a volume holding other files)."""
    try:
        os.makedirs(directory, exist_ok=True)
        with os.scandir(directory) as entries:
            stale = [entry.path for entry in entries if entry.name.endswith(".db") and not entry.is_dir()]
        for path in stale:
            os.unlink(path)
    except FileExistsError:
        raise SettingError(f"{VARIABLE}={directory!r}: it exists and is not a directory") from None
    except OSError as error:
        where = f" ({error.filename})" if error.filename and error.filename != directory else ""
        raise SettingError(f"{VARIABLE}={directory!r}: {error.strerror or error}{where}") from None


def missing_client_notice() -> str:
    return (
        f"notice: {VARIABLE} is set but prometheus_client is not installed:"
        " the directory is ready, no worker is marked dead"
    )
