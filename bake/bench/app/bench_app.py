"""The benchmark's app: the image's sample app at `/`, a small JSON endpoint at `/json`."""

import json

from main import app as sample_app

JSON_HEADERS = [(b"content-type", b"application/json")]


async def app(scope, receive, send):
    if scope["type"] == "http" and scope["path"] == "/json":
        body = json.dumps({"message": "Hello, World!"}).encode()
        await send({"type": "http.response.start", "status": 200, "headers": JSON_HEADERS})
        await send({"type": "http.response.body", "body": body})
        return
    await sample_app(scope, receive, send)
