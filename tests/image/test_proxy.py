"""FORWARDED_ALLOW_IPS decides whose X-Forwarded-For is believed."""

from __future__ import annotations

import json

import requests

from tests.conftest import PROBE_APP, ChildImages
from tests.image.server import Manager, serve

FORWARDED = {"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"}
ASK_INSIDE = (
    "import urllib.request; request = urllib.request.Request('http://127.0.0.1:80/client', headers={headers!r});"
    " print(urllib.request.urlopen(request, timeout=10).read().decode())"
)


def test_forwarded_headers_from_loopback_only_by_default(
    child_images: ChildImages, platform: str, manager: Manager
) -> None:
    child = child_images.build(platform, {"main.py": PROBE_APP})
    with serve(child, platform, env={"PROCESS_MANAGER": manager.name}) as server:
        from_host = requests.get(server.url(path="/client"), headers=FORWARDED, timeout=10).json()
        from_inside = json.loads(server.python(ASK_INSIDE.format(headers=FORWARDED)))
    assert from_host["client"] != "203.0.113.7"
    assert from_host["scheme"] == "http"
    assert from_inside == {"client": "203.0.113.7", "scheme": "https"}


def test_trusted_addresses_are_configurable(child_images: ChildImages, platform: str, manager: Manager) -> None:
    child = child_images.build(platform, {"main.py": PROBE_APP})
    with serve(child, platform, env={"FORWARDED_ALLOW_IPS": "*", "PROCESS_MANAGER": manager.name}) as server:
        from_host = requests.get(server.url(path="/client"), headers=FORWARDED, timeout=10).json()
    assert from_host == {"client": "203.0.113.7", "scheme": "https"}
