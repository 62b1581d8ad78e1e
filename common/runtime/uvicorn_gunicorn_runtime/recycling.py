"""Worker recycling (max_requests) that holds to its limit, without dropped requests.

Uvicorn alone checks a worker's count on its tick, ten times a second, and only counts
finished responses: the faster the host, the further a worker runs past its limit (975
requests for a limit of 50 to 75 on a host serving 41,000 requests/s). On reaching it, it shuts
down as on SIGTERM and closes every idle keep-alive connection at once, so a client that has
just sent its next request on one sees the connection drop (931 read errors in 10 s of wrk,
see docs/production.md).

Here a worker counts each request as the application is called for it. The moment it takes
its limit-th request it stops accepting (the other workers take new connections), and that
response and every later one carry `Connection: close`; each other connection it holds open
can bring at most one more request, which is answered and closes it. Uvicorn's own check then
ends the main loop, and the worker drains: it waits until the clients have closed their
connections or Uvicorn's keep-alive timeout has, at most that timeout and a second, before
Uvicorn's own shutdown runs. SIGTERM still shuts down at once. Installed in Gunicorn's master
when max_requests is set, before the workers fork (see gunicorn_server).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from asyncio.selector_events import BaseSelectorEventLoop
from collections.abc import Callable

from uvicorn.server import Server, ServerState

from uvicorn_gunicorn_runtime.asgi import ASGIApp, Receive, Scope, Send

CONNECTION_CLOSE = (b"connection", b"close")
POLL_SECONDS = 0.05

logger = logging.getLogger("uvicorn.error")


class RecyclingState(ServerState):  # type: ignore[misc]  # uvicorn is not installed where mypy runs
    """Uvicorn's state shared by a server's connections, which can be told to close them: from
    then on each response carries `Connection: close`, even after Uvicorn's once-a-second
    refresh of its default headers. Responses already under way read the list that was current
    when their request arrived, so that list gains the header too."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.taken = 0  # HTTP requests the application has been called for
        self.closing = False
        super().__init__()

    @property  # an attribute in ServerState; the setter keeps the header
    def default_headers(self) -> list[tuple[bytes, bytes]]:
        return self._default_headers

    @default_headers.setter
    def default_headers(self, headers: list[tuple[bytes, bytes]]) -> None:
        if self.closing and CONNECTION_CLOSE not in headers:
            headers = [*headers, CONNECTION_CLOSE]
        self._default_headers = headers

    def close_connections(self) -> None:
        self.closing = True
        if CONNECTION_CLOSE not in self._default_headers:
            self._default_headers.append(CONNECTION_CLOSE)


class RequestLimit:
    """The application as a server with a request limit calls it: counts HTTP requests in
    `state` as they start and calls `reached` once, when the limit-th one does."""

    def __init__(self, app: ASGIApp, state: RecyclingState, reached: Callable[[], None]) -> None:
        self.app = app
        self.state = state
        self.reached = reached

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.state.taken += 1
            if self.state.taken == self.state.limit:
                self.reached()
        await self.app(scope, receive, send)


class Recycler:
    """One limited server's way out: stop taking requests at the limit, drain at shutdown."""

    def __init__(self, server: Server, limit: int, sockets: list[socket.socket]) -> None:
        self.server = server
        self.state = RecyclingState(limit)
        self.sockets = sockets

    def stop_taking(self) -> None:
        if self.state.closing:
            return
        logger.info("Request limit of %d taken: accepting no more connections.", self.state.limit)
        self._stop_accepting()
        self.state.close_connections()

    def _stop_accepting(self) -> None:
        loop = asyncio.get_running_loop()
        if isinstance(loop, BaseSelectorEventLoop):
            # Closing an asyncio server drops each connection it has accepted but not yet set up
            # (Server._attach asserts the server is open), a request lost under load: stop
            # watching its sockets instead, and let Uvicorn's shutdown close it.
            for listening in self.server.servers:
                for listener in listening.sockets:
                    loop.remove_reader(listener.fileno())
            return
        # uvloop sets a connection up as it accepts it, but closes a listening descriptor itself
        # and then the socket object it was handed, which for Gunicorn's listener logs "Error
        # while closing socket [Errno 9]": its own close is left the only one.
        for handed in self.sockets:
            getattr(handed, "sock", handed).detach()
        for listening in self.server.servers:
            listening.close()

    def limit_reached(self) -> bool:
        return not self.server.should_exit and self.state.total_requests >= self.state.limit

    async def drain(self) -> None:
        self.stop_taking()
        deadline = time.monotonic() + self.server.config.timeout_keep_alive + 1
        while self.state.connections and not self.server.should_exit and time.monotonic() < deadline:
            await asyncio.sleep(POLL_SECONDS)
        logger.info("Recycled after %d requests (limit %d).", self.state.taken, self.state.limit)


def drain_before_recycling() -> None:
    """Makes every Uvicorn server of this process hold to its request limit and drain before
    it shuts down for it (see the module's docstring). Idempotent."""
    startup, shutdown = Server.startup, Server.shutdown
    if getattr(shutdown, "drains", False):
        return

    async def limited_startup(self: Server, sockets: list[socket.socket] | None = None) -> None:
        limit = self.limit_max_requests
        if limit is not None:
            recycler = Recycler(self, limit, list(sockets or []))
            self.recycler = recycler
            self.server_state = recycler.state
            self.config.loaded_app = RequestLimit(self.config.loaded_app, recycler.state, recycler.stop_taking)
        await startup(self, sockets)

    async def draining_shutdown(self: Server, sockets: list[socket.socket] | None = None) -> None:
        recycler: Recycler | None = getattr(self, "recycler", None)
        if recycler is not None and recycler.limit_reached():
            await recycler.drain()
        await shutdown(self, sockets)

    draining_shutdown.drains = True  # type: ignore[attr-defined]
    Server.startup = limited_startup
    Server.shutdown = draining_shutdown
