"""The image holds exactly the server stack its lock file pins for its CPython and platform, every
file of it as pip's RECORD lists it (see installed.py)."""

from __future__ import annotations

import pytest

from bake.core.locks import Target, stack_lock
from tests.conftest import ImageUnderTest
from tests.image.installed import installed, pins_of


@pytest.mark.every_platform
def test_the_installed_distributions_are_the_lock_files_pins_each_whole(image: ImageUnderTest, platform: str) -> None:
    found = installed(image.image_id, platform)
    assert found.versions == pins_of(stack_lock(Target(image.spec.python, platform)).read_text())
    assert found.faults == {}
