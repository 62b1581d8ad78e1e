"""Settings read as in a container with two CPUs, no memory limit and the files given."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import pytest
from uvicorn_gunicorn_runtime.environment import SettingError
from uvicorn_gunicorn_runtime.limits import CpuLimit
from uvicorn_gunicorn_runtime.settings import Settings, load_settings
from uvicorn_gunicorn_runtime.worker_memory import SMAPS_ROLLUP

TWO_CPUS = CpuLimit(2, None)
# The kernel's smaps_rollup is there from Linux 4.14 on: every kernel the images run on here.
IMAGE_FILES = ("/app/main.py", "/gunicorn_conf.py", SMAPS_ROLLUP)
# The image's Gunicorn configuration file, which the images copy to /gunicorn_conf.py.
IMAGE_CONF_SOURCE = Path(__file__).resolve().parents[3] / "common" / "gunicorn_conf.py"


def reading(env: Mapping[str, str], files: tuple[str, ...] = IMAGE_FILES) -> Settings:
    return load_settings(env, TWO_CPUS, None, lambda path: path in files)


def setting_error(call: Callable[[], object]) -> str:
    """The SettingError that `call` raises, checked to be one line."""
    with pytest.raises(SettingError) as error:
        call()
    assert "\n" not in str(error.value)
    return str(error.value)
