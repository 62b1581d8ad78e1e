"""The image runs under an arbitrary non-root user, and on a read-only root filesystem."""

from __future__ import annotations

import pytest
import requests

from tests.conftest import ImageUnderTest
from tests.image.server import Manager, serve


@pytest.mark.every_platform
def test_arbitrary_non_root_user(image: ImageUnderTest, platform: str, manager: Manager) -> None:
    env = {"PORT": "8080", "PROCESS_MANAGER": manager.name}
    with serve(image.image_id, platform, env=env, port=8080, options={"user": "10001:0"}) as server:
        assert requests.get(server.url(8080), timeout=10).status_code == 200
        assert server.python("import os; print(os.getuid())") == "10001"


def test_read_only_root_with_a_tmpfs(image: ImageUnderTest, platform: str, manager: Manager) -> None:
    with serve(
        image.image_id, platform, env={"PROCESS_MANAGER": manager.name}, tmpfs="/tmp", options={"read_only": True}
    ) as server:
        assert requests.get(server.url(), timeout=10).status_code == 200
        logs = server.logs()
    assert "Read-only file system" not in logs
