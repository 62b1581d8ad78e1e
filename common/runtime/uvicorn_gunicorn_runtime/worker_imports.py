"""What a Uvicorn worker imports as it starts serving (its event loop, HTTP and WebSocket
protocols, lifespan), imported once in Gunicorn's master instead, before it forks.

Each worker would otherwise import them itself, about 32 ms of CPU on python3.11-slim (the
WebSocket protocol alone is 20 ms), every time one starts: at start, and again for every worker
recycled by MAX_REQUESTS, which under load is several a second. Forked, the modules cost a
replacement worker nothing and are shared pages of memory."""

from __future__ import annotations

from contextlib import suppress

from uvicorn.config import HTTP_PROTOCOLS, LIFESPAN, WS_PROTOCOLS, Config
from uvicorn.importer import import_from_string


def import_serving_modules(worker: object) -> None:
    """Imports what `worker`'s Uvicorn configuration names; a worker of another kind has none.
    A module that fails to import is left for the worker, which reports it as it always has."""
    config = getattr(worker, "config", None)
    if not isinstance(config, Config):
        return
    named = [
        HTTP_PROTOCOLS.get(config.http, config.http) if isinstance(config.http, str) else None,
        WS_PROTOCOLS.get(config.ws, config.ws) if isinstance(config.ws, str) else None,
        LIFESPAN.get(config.lifespan),
    ]
    with suppress(Exception):  # the worker imports it again, and says why it fails
        for path in named:
            if path:
                import_from_string(path)
        config.get_loop_factory()  # imports the loop's module (uvloop); makes no loop
