"""A stand-in for the two Docker Hub API calls the description step makes, on loopback."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOKEN = "stand-in-token"


@dataclass
class HubRecord:
    logins: list[str] = field(default_factory=list)
    descriptions: dict[str, str] = field(default_factory=dict)


def _handler(record: HubRecord) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _body(self) -> dict[str, str]:
            loaded: dict[str, str] = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            return loaded

        def _answer(self, status: int, body: dict[str, str]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            if self.path != "/v2/users/login":
                return self._answer(404, {"detail": "not found"})
            record.logins.append(self._body()["username"])
            return self._answer(200, {"token": TOKEN})

        def do_PATCH(self) -> None:
            prefix = "/v2/repositories/"
            if not self.path.startswith(prefix) or self.headers.get("Authorization") != f"JWT {TOKEN}":
                return self._answer(401, {"detail": "unauthorized"})
            record.descriptions[self.path[len(prefix) :].strip("/")] = self._body()["full_description"]
            return self._answer(200, {})

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@contextmanager
def hub_standin() -> Iterator[tuple[str, HubRecord]]:
    """Serves the stand-in on 127.0.0.1; yields its base URL and what it received."""
    record = HubRecord()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(record))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", record
    finally:
        server.shutdown()
        server.server_close()
