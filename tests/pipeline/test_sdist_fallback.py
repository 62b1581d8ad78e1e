"""A package with no wheel for a platform and CPython: the native stage names it in one line, and
the emulated stage builds it from its sdist (hash-checked), so the tag still builds and holds
exactly its lock's pins. SDIST_ONLY stands in for the missing wheel: python-dotenv, pure Python,
builds anywhere. Built for an emulated platform where the engine has one, as a new CPython's
arm64 build would be."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import pytest
from python_on_whales import docker

from bake.core.locks import Target, stack_lock
from bake.core.naming import local_reference
from bake.engine.platforms import engine_platform
from tests.conftest import ImageUnderTest, rebuild
from tests.image.installed import installed, pins_of

PACKAGE = "python-dotenv"


def _emulated_if_any(image: ImageUnderTest) -> str:
    others = [platform for platform in image.spec.platforms if platform != engine_platform()]
    return others[0] if others else engine_platform()


@pytest.fixture(scope="module")
def without_wheel(image: ImageUnderTest) -> Iterator[tuple[str, str, list[str]]]:
    """(tag, platform, build log) of the image rebuilt with PACKAGE taken from its sdist."""
    platform = _emulated_if_any(image)
    tag = str(local_reference(image.spec, "uvicorn-gunicorn-test/sdist-only"))
    log: list[str] = []
    # A new PIP_REFRESH: every pip step runs, so that the log shows it.
    rebuild(image, tag, args={"SDIST_ONLY": PACKAGE, "PIP_REFRESH": uuid.uuid4().hex}, platform=platform, log=log)
    yield tag, platform, log
    docker.image.remove(tag, force=True)


def test_the_package_is_named_once_and_built_in_the_emulated_stage(
    image: ImageUnderTest, without_wheel: tuple[str, str, list[str]]
) -> None:
    _, platform, log = without_wheel
    version = pins_of(stack_lock(Target(image.spec.python, platform)).read_text())["python_dotenv"]
    named = [line for line in log if f"{PACKAGE}=={version}; its sdist is built under emulation" in line]
    assert len(named) == 1, named
    # pip builds it in the image's own stage (FROM the target platform's base: emulated where
    # the platform is not the engine's), in its step for emulated.txt; not in the native stage.
    built = re.compile(rf"^#\d+ \d+\.\d+ .*Building wheel for {PACKAGE}\b", re.IGNORECASE)
    steps = {line.split()[0] for line in log if built.match(line)}
    assert len(steps) == 1
    (step,) = steps
    header = next(line for line in log if line.startswith(f"{step} [") and " RUN " in line)
    assert "source=/wheels/emulated.txt" in header and "[stack " not in header, header


def test_the_image_still_holds_the_lock_exactly(
    image: ImageUnderTest, without_wheel: tuple[str, str, list[str]]
) -> None:
    tag, platform, _ = without_wheel
    found = installed(tag, platform)
    assert found.versions == pins_of(stack_lock(Target(image.spec.python, platform)).read_text())
    assert found.faults == {}
