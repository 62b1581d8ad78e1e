"""What the image says about itself."""

from __future__ import annotations

from python_on_whales import docker

from bake.engine.bases import BASE_LABEL
from bake.engine.standin import standin_reference
from tests.conftest import ImageUnderTest


def test_label_names_the_base_it_was_built_on(image: ImageUnderTest) -> None:
    labels = docker.image.inspect(image.reference).config.labels or {}
    assert labels.get(BASE_LABEL) in (image.spec.official_base, standin_reference(image.spec))


def test_default_command_and_environment(image: ImageUnderTest) -> None:
    config = docker.image.inspect(image.reference).config
    assert config.cmd == ["/start.sh"]
    assert str(config.working_dir) == "/app"
    environment = dict(entry.split("=", 1) for entry in config.env or [])
    assert environment["PYTHONPATH"] == "/app"
    assert environment["PYTHONDONTWRITEBYTECODE"] == "1"
    assert environment["PYTHONUNBUFFERED"] == "1"
