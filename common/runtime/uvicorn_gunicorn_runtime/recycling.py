"""Worker recycling (max_requests) without dropped requests.

A Uvicorn server that has served its request limit shuts down as on SIGTERM: it closes every
idle keep-alive connection at once, and a client that has just sent its next request on one
sees the connection drop (931 read errors in 10 s of wrk, see docs/production.md). Here such a server
first drains: it stops accepting (the other workers take new connections), answers each
connection's next request with `Connection: close`, and waits until the clients have closed
them or Uvicorn's keep-alive timeout has, at most that timeout and a second; then Uvicorn's
own shutdown runs. SIGTERM still shuts down at once. Installed in Gunicorn's master when
max_requests is set, before the workers fork (see gunicorn_server).
"""

from __future__ import annotations

import asyncio
import socket
import time

from uvicorn.server import Server

CONNECTION_CLOSE = (b"connection", b"close")
POLL_SECONDS = 0.05


def drain_before_recycling() -> None:
    shutdown = Server.shutdown
    if getattr(shutdown, "drains", False):
        return

    async def draining_shutdown(self: Server, sockets: list[socket.socket] | None = None) -> None:
        if _limit_reached(self):
            await _drain(self)
        await shutdown(self, sockets)

    draining_shutdown.drains = True  # type: ignore[attr-defined]
    Server.shutdown = draining_shutdown


def _limit_reached(server: Server) -> bool:
    limit = server.limit_max_requests
    return not server.should_exit and limit is not None and server.server_state.total_requests >= limit


async def _drain(server: Server) -> None:
    for listener in server.servers:
        listener.close()
    # Every response from here on, those under way included: Uvicorn adds these headers to each
    # response, and then closes the connection after it.
    server.server_state.default_headers.append(CONNECTION_CLOSE)
    deadline = time.monotonic() + server.config.timeout_keep_alive + 1
    while server.server_state.connections and not server.should_exit and time.monotonic() < deadline:
        await asyncio.sleep(POLL_SECONDS)
