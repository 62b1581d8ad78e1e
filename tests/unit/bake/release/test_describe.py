"""The Docker Hub description step, against a fake Hub API on loopback."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest
import requests

from bake.paths import README
from bake.release.describe import MAX_DESCRIPTION, description_size, update_description
from bake.release.publish import PublishError


class FakeHub(BaseHTTPRequestHandler):
    requests_seen: ClassVar[list[tuple[str, str, dict[str, str], str | None]]] = []
    password = "right"

    def _body(self) -> dict[str, str]:
        loaded: dict[str, str] = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        return loaded

    def _answer(self, status: int, body: dict[str, str]) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(json.dumps(body).encode())

    def do_POST(self) -> None:
        body = self._body()
        self.requests_seen.append(("POST", self.path, body, None))
        ok = self.path == "/v2/users/login" and body.get("password") == self.password
        self._answer(200 if ok else 401, {"token": "jwt-1"} if ok else {})

    def do_PATCH(self) -> None:
        self.requests_seen.append(("PATCH", self.path, self._body(), self.headers["Authorization"]))
        self._answer(200 if self.headers["Authorization"] == "JWT jwt-1" else 401, {})

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def hub() -> Iterator[str]:
    FakeHub.requests_seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeHub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_logs_in_then_sets_the_full_description(hub: str) -> None:
    with requests.Session() as session:
        update_description(hub, "acme/uvicorn-gunicorn", "bot", "right", "# readme\n", session)
    assert FakeHub.requests_seen == [
        ("POST", "/v2/users/login", {"username": "bot", "password": "right"}, None),
        ("PATCH", "/v2/repositories/acme/uvicorn-gunicorn/", {"full_description": "# readme\n"}, "JWT jwt-1"),
    ]


def test_a_refused_login_is_one_line_and_changes_nothing(hub: str) -> None:
    with requests.Session() as session, pytest.raises(PublishError, match=r"as 'bot' failed with HTTP 401$"):
        update_description(hub, "acme/uvicorn-gunicorn", "bot", "wrong", "# readme\n", session)
    assert [method for method, *_ in FakeHub.requests_seen] == ["POST"]


def test_a_readme_too_long_for_the_hub_is_refused_not_cut(hub: str) -> None:
    with requests.Session() as session, pytest.raises(PublishError, match="Docker Hub takes at most"):
        update_description(hub, "acme/x", "bot", "right", "x" * (MAX_DESCRIPTION + 1), session)
    assert FakeHub.requests_seen == []


def test_the_limit_counts_bytes_not_characters(hub: str) -> None:
    """25,000 characters of which some take two bytes in UTF-8 are over the Hub's limit."""
    readme = "é" * 10 + "x" * (MAX_DESCRIPTION - 10)
    assert len(readme) == MAX_DESCRIPTION
    with requests.Session() as session, pytest.raises(PublishError, match=rf"has {MAX_DESCRIPTION + 10} bytes"):
        update_description(hub, "acme/x", "bot", "right", readme, session)
    assert FakeHub.requests_seen == []


def test_the_readme_fits_the_hubs_limit() -> None:
    """The publishing workflow sets the Hub description from README.md and refuses a longer one."""
    assert description_size(README.read_text()) <= MAX_DESCRIPTION, "move maintainer documentation to docs/"
