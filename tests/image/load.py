"""A client load on keep-alive connections that never retries, so that a dropped connection or a
refused request counts: what the recycling tests run across a worker's replacement."""

from __future__ import annotations

import http.client
import json
import threading
from collections import Counter
from dataclasses import dataclass, field

from tests.image.server import STARTUP_TIMEOUT_SECONDS, Server

# The image's own HEALTHCHECK sends requests too; off (a container option), every request a
# worker takes is one of the load's.
NO_HEALTHCHECK = {"healthcheck": {"test": ["NONE"]}}


@dataclass
class Load:
    """What the clients saw: the status of each answer, the worker that gave each 200 (the probe
    application's pid), and each error."""

    statuses: Counter[int] = field(default_factory=Counter)
    pids: Counter[int] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)

    def client(self, host: str, port: int, requests: int | None) -> None:
        """`requests` requests (None: until told to stop) one after another."""
        # http.client opens a new connection for the next request once an answer said
        # `Connection: close`; it never sends a request again.
        connection = http.client.HTTPConnection(host, port, timeout=STARTUP_TIMEOUT_SECONDS)
        sent = 0
        try:
            while (requests is None or sent < requests) and not self.stop.is_set():
                sent += 1
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

    def start(self, server: Server, clients: int, requests: int | None = None) -> list[threading.Thread]:
        """`clients` clients at once, `requests` each (None: until `stop` is set)."""
        host, port = server.container.get_container_host_ip(), int(server.container.get_exposed_port(80))
        threads = [threading.Thread(target=self.client, args=(host, port, requests)) for _ in range(clients)]
        for thread in threads:
            thread.start()
        return threads

    def join(self, threads: list[threading.Thread]) -> None:
        """Waits for the clients to finish; one still busy after the deadline fails the test
        rather than leaving its count unread."""
        for thread in threads:
            thread.join(timeout=STARTUP_TIMEOUT_SECONDS)
        assert not any(thread.is_alive() for thread in threads), "a client did not finish within the deadline"

    def run(self, server: Server, clients: int, requests: int) -> None:
        """`clients` clients at once, `requests` each, to the end."""
        self.join(self.start(server, clients, requests))

    def answered(self) -> int:
        with self.lock:
            return sum(self.statuses.values())
