"""Image tests: `pytest tests/image --tag python3.11-slim` checks a built tag on each of its platforms."""

from __future__ import annotations

import os
from dataclasses import dataclass

import pytest
from python_on_whales import docker

from bake.matrix import Image, load_matrix
from bake.selection import SelectionError, select

# Ryuk, testcontainers' reaper, is an image that cannot be pulled here; containers are
# removed by the tests' own context managers instead.
os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")


@dataclass(frozen=True)
class ImageUnderTest:
    spec: Image
    reference: str
    # Containers are started from the id, never the tag, so that a missing tag cannot trigger a pull.
    image_id: str


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--tag", help="the tag under test, such as python3.11-slim")
    parser.addoption(
        "--image-name", default=os.environ.get("IMAGE_NAME") or "uvicorn-gunicorn", help="repository of the tag"
    )
    parser.addoption("--platform", action="append", help="test only this platform (repeatable)")


def _spec(config: pytest.Config) -> Image:
    tag = config.getoption("--tag")
    if not tag:
        raise pytest.UsageError("image tests need --tag TAG (nox -s test -- TAG passes it)")
    try:
        (spec,) = select(load_matrix(), [tag])
    except SelectionError as error:
        raise pytest.UsageError(str(error)) from None
    return spec


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "platform" in metafunc.fixturenames:
        spec = _spec(metafunc.config)
        chosen = metafunc.config.getoption("--platform") or list(spec.platforms)
        unknown = sorted(set(chosen) - set(spec.platforms))
        if unknown:
            raise pytest.UsageError(f"--platform {', '.join(unknown)} is not a platform of {spec.tag}")
        metafunc.parametrize("platform", chosen, ids=chosen)


@pytest.fixture(scope="session")
def image(pytestconfig: pytest.Config) -> ImageUnderTest:
    spec = _spec(pytestconfig)
    reference = f"{pytestconfig.getoption('--image-name')}:{spec.tag}"
    if not docker.image.exists(reference):
        pytest.fail(f"{reference} is not in the local image store; build it first: nox -s build -- {spec.tag}")
    return ImageUnderTest(spec, reference, docker.image.inspect(reference).id)
