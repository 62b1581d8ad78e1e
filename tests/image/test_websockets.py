"""WebSockets: served under each process manager and worker class, with the websockets package
loaded by a worker at its first WebSocket connection, not at its start (see lazy_websockets)."""

from __future__ import annotations

import pytest
import requests

from tests.conftest import PROBE_APP, ChildImages
from tests.image.server import Manager, serve

# Runs inside the container, with the image's own websockets package as the client.
ECHO = (
    "from websockets.sync.client import connect\n"
    "with connect('ws://127.0.0.1:80/echo', open_timeout=60) as socket:\n"
    "    socket.send('hello over a WebSocket')\n"
    "    print(socket.recv(timeout=60))\n"
)
WORKER_CLASSES = ("uvicorn_worker.UvicornWorker", "uvicorn_worker.UvicornH11Worker")


@pytest.mark.every_platform
@pytest.mark.parametrize("worker_class", WORKER_CLASSES)
def test_a_websocket_is_answered_by_a_worker_that_loaded_no_websockets_at_start(
    child_images: ChildImages, platform: str, manager: Manager, worker_class: str
) -> None:
    image_id = child_images.build(platform, {"main.py": PROBE_APP})
    env = {"PROCESS_MANAGER": manager.name, "WORKER_CLASS": worker_class, "WEB_CONCURRENCY": "1"}
    with serve(image_id, platform, env=env) as server:
        before = requests.get(server.url(path="/modules"), params={"name": "websockets"}, timeout=30).json()
        echoed = server.python(ECHO).strip()
        after = requests.get(server.url(path="/modules"), params={"name": "websockets"}, timeout=30).json()
    assert before["loaded"] is False, "the worker imported websockets before any WebSocket connection"
    assert echoed == "hello over a WebSocket"
    assert after == {"pid": before["pid"], "loaded": True}, "the same worker, which has loaded it now"
