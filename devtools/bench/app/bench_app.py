"""The benchmark's app: the image's sample app at `/`, a small JSON endpoint at `/json`, and
`/cpu`, which blocks its event loop with 5 ms of CPU work, as a handler that computes would,
and `/hang`, which blocks it for an hour, as a stuck handler would."""

import json
import time

from main import app as sample_app

JSON_HEADERS = [(b"content-type", b"application/json")]
CPU_SECONDS = 0.005


def _spin(seconds: float) -> None:
    """Uses `seconds` of this thread's CPU time, however often the process is preempted."""
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass


async def app(scope, receive, send):
    if scope["type"] == "http" and scope["path"] == "/json":
        body = json.dumps({"message": "Hello, World!"}).encode()
        await send({"type": "http.response.start", "status": 200, "headers": JSON_HEADERS})
        await send({"type": "http.response.body", "body": body})
        return
    if scope["type"] == "http" and scope["path"] == "/cpu":
        _spin(CPU_SECONDS)
        await send({"type": "http.response.start", "status": 200, "headers": JSON_HEADERS})
        await send({"type": "http.response.body", "body": b'{"cpu_ms": 5}'})
        return
    if scope["type"] == "http" and scope["path"] == "/hang":
        time.sleep(3600)
    await sample_app(scope, receive, send)
