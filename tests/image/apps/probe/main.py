"""A test application: reports what the tests need to see from inside a worker."""

import asyncio
import json
import logging
import os
import sys
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs

Message = dict[str, Any]

# What /leak keeps, on purpose: a leak that grows by the MiB asked for each time.
LEAKED: list[bytes] = []

print("probe: imported", flush=True)

log = logging.getLogger("probe.app")


async def app(
    scope: dict[str, Any], receive: Callable[[], Awaitable[Message]], send: Callable[[Message], Awaitable[None]]
) -> None:
    if scope["type"] == "websocket":  # echoes one text message
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})
        message = await receive()
        await send({"type": "websocket.send", "text": message.get("text") or ""})
        await send({"type": "websocket.close"})
        return
    if scope["type"] != "http":
        return  # no lifespan handling: Uvicorn then runs without it
    query = {key: values[0] for key, values in parse_qs(scope["query_string"].decode()).items()}
    path = scope["path"]
    body: dict[str, object]
    if path == "/slow":
        print(f"probe: slow request started, {query['seconds']} s", flush=True)
        await asyncio.sleep(float(query["seconds"]))
        body = {"slept": float(query["seconds"])}
    elif path == "/client":
        body = {"client": scope["client"][0] if scope.get("client") else None, "scheme": scope["scheme"]}
    elif path == "/leak":
        LEAKED.append(b"\x01" * (int(query["mib"]) << 20))  # written, so resident: not calloc's untouched pages
        body = {"pid": os.getpid(), "leaked_mib": sum(map(len, LEAKED)) >> 20}
    elif path == "/env":
        body = {"value": os.environ.get(query["name"])}
    elif path == "/log":
        log.warning("probe: warning %s", query["mark"])
        log.info("probe: info %s", query["mark"])
        body = {"logged": query["mark"]}
    elif path == "/raise":
        raise RuntimeError("probe: raised on purpose")
    elif path == "/bytes":
        # The body in two parts, so that a count of the bytes sent must add them up.
        half = int(query["n"]) // 2
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"a" * half, "more_body": True})
        await send({"type": "http.response.body", "body": b"b" * (int(query["n"]) - half)})
        return
    elif path == "/ready":  # says which worker each readiness check reached
        print(f"probe: ready asked of {os.getpid()}", flush=True)
        body = {"pid": os.getpid()}
    elif path == "/modules":
        body = {"pid": os.getpid(), "loaded": query["name"] in sys.modules}
    else:
        body = {"app": "probe", "pid": os.getpid()}
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": json.dumps(body).encode()})
