from __future__ import annotations

import os
from collections.abc import Iterator, Mapping

import pytest
from uvicorn_gunicorn_runtime import settings as settings_module
from uvicorn_gunicorn_runtime.settings import Settings

from tests.unit.runtime.readings import reading


@pytest.fixture
def container_readings(monkeypatch: pytest.MonkeyPatch) -> list[Settings]:
    """load_from_container, recording each reading of "the container" (see readings) instead of
    reading this machine's."""
    readings: list[Settings] = []

    def load_from_container(environ: Mapping[str, str]) -> Settings:
        readings.append(reading(environ))
        return readings[-1]

    monkeypatch.setattr(settings_module, "load_from_container", load_from_container)
    return readings


@pytest.fixture
def pipe() -> Iterator[tuple[int, int]]:
    """A pipe's (read, write) descriptors, closed afterwards."""
    read, write = os.pipe()
    yield read, write
    os.close(read)
    os.close(write)
