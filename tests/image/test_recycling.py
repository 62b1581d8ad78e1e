"""MAX_REQUESTS and MAX_REQUESTS_JITTER: workers are replaced under load, and no request fails."""

from __future__ import annotations

import http.client
import json
import re
import threading
from collections import Counter
from dataclasses import dataclass, field

from tests.image.conftest import PROBE_APP, ChildImages
from tests.image.server import serve

WORKERS = 3
MAX_REQUESTS = 50
JITTER = 25
CLIENTS = 8
REQUESTS_PER_CLIENT = 500


@dataclass
class Load:
    """What clients on keep-alive connections saw: never retried, so a dropped connection counts."""

    statuses: Counter[int] = field(default_factory=Counter)
    pids: Counter[int] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def client(self, host: str, port: int) -> None:
        connection = http.client.HTTPConnection(host, port, timeout=30)
        try:
            for _ in range(REQUESTS_PER_CLIENT):
                try:
                    connection.request("GET", "/")
                    response = connection.getresponse()
                    body = response.read()
                except (OSError, http.client.HTTPException) as error:
                    with self.lock:
                        self.errors.append(f"{type(error).__name__}: {error}")
                    connection.close()
                    continue
                with self.lock:
                    self.statuses[response.status] += 1
                    if response.status == 200:
                        self.pids[json.loads(body)["pid"]] += 1
        finally:
            connection.close()


def test_workers_are_recycled_under_load_without_a_failed_request(child_images: ChildImages, platform: str) -> None:
    child = child_images.build(platform, {"main.py": PROBE_APP})
    env = {
        "WEB_CONCURRENCY": str(WORKERS),
        "MAX_REQUESTS": str(MAX_REQUESTS),
        "MAX_REQUESTS_JITTER": str(JITTER),
        "ACCESS_LOG": "",
    }
    with serve(child, platform, env=env) as server:
        host = server.container.get_container_host_ip()
        port = int(server.container.get_exposed_port(80))
        load = Load()
        clients = [threading.Thread(target=load.client, args=(host, port)) for _ in range(CLIENTS)]
        for thread in clients:
            thread.start()
        for thread in clients:
            thread.join(timeout=300)
        logs = server.logs()
        settings = server.settings()
    assert (settings["max_requests"], settings["max_requests_jitter"]) == (MAX_REQUESTS, JITTER)
    assert load.errors == []
    assert load.statuses == {200: CLIENTS * REQUESTS_PER_CLIENT}
    # A worker checks its count every tenth of a second (Uvicorn's tick), so under this load it
    # serves up to a few hundred requests past its limit: 4,000 requests still need a dozen.
    assert len(load.pids) >= 10, load.pids
    limits = [int(limit) for limit in re.findall(r"Maximum request limit of (\d+) exceeded", logs)]
    assert len(limits) >= 8, logs
    assert all(MAX_REQUESTS <= limit <= MAX_REQUESTS + JITTER for limit in limits), limits
    # The jitter: workers do not all restart after the same number of requests.
    assert len(set(limits)) >= 4, limits
    assert "Traceback" not in logs


def test_without_max_requests_workers_live_on(child_images: ChildImages, platform: str) -> None:
    """The default, as in Gunicorn: 0, no recycling."""
    child = child_images.build(platform, {"main.py": PROBE_APP})
    with serve(child, platform, env={"WEB_CONCURRENCY": "2", "ACCESS_LOG": ""}) as server:
        load = Load()
        load.client(server.container.get_container_host_ip(), int(server.container.get_exposed_port(80)))
        logs = server.logs()
    assert load.errors == []
    assert len(load.pids) <= 2
    assert "Maximum request limit" not in logs
