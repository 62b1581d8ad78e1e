"""Worker recycling, at a request limit (max_requests) that holds or above a memory ceiling
(MAX_WORKER_MEMORY_MB), without dropped requests.

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
connections or Uvicorn's keep-alive timeout has, at most that timeout and a second. Drained,
it shuts down at once; Uvicorn's own shutdown, which pauses for what is still open, runs only
when something is. SIGTERM still shuts down at once.

A worker with a memory ceiling checks its size once a second, on Uvicorn's tick, the first
time a second after its start (see worker_memory). Found above it, the worker logs one warning
line naming itself, its size and the ceiling, and leaves the same way as at its request limit:
it stops accepting, closes its connections as they answer, ends the main loop and drains.
Whichever comes first starts the leaving; the other is then not acted on. Installed in
Gunicorn's master when max_requests or a ceiling is set, before the workers fork (see
gunicorn_server).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import sys
import time
from asyncio.selector_events import BaseSelectorEventLoop
from collections.abc import Callable

from uvicorn.server import Server, ServerState

from uvicorn_gunicorn_runtime.asgi import ASGIApp, Receive, Scope, Send
from uvicorn_gunicorn_runtime.worker_memory import MemoryCeiling

CONNECTION_CLOSE = (b"connection", b"close")
POLL_SECONDS = 0.05
# A worker's memory is checked on Uvicorn's tick (ten a second) once this long has passed since
# its start or its last check: a ceiling below a fresh worker's size replaces it no faster.
MEMORY_CHECK_SECONDS = 1.0
# Uvicorn's own methods, which the server's are made of here (see drain_before_recycling).
UVICORNS_STARTUP, UVICORNS_SHUTDOWN, UVICORNS_TICK = Server.startup, Server.shutdown, Server.on_tick

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
    """One limited server's way out: stop taking requests at the request limit or above the
    memory ceiling, drain at shutdown."""

    def __init__(
        self,
        server: Server,
        limit: int,
        sockets: list[socket.socket],
        ceiling: MemoryCeiling | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.server = server
        self.state = RecyclingState(limit)
        self.sockets = sockets
        self.ceiling = ceiling
        self.clock = clock
        self.next_check = clock() + MEMORY_CHECK_SECONDS
        self.memory_kib: int | None = None  # the size found above the ceiling, once it was

    def request_limit_taken(self) -> None:
        if self.state.closing:
            return  # leaving already, for its request limit or its memory
        logger.info("Request limit of %d taken: accepting no more connections.", self.state.limit)
        self._stop_taking()

    def memory_exceeded(self) -> bool:
        """Whether the worker has just been found above its ceiling, and so stopped taking
        requests; checked once a second at most, never while it is leaving already, whatever for."""
        if self.ceiling is None or self.state.closing or self.server.should_exit or self.clock() < self.next_check:
            return False
        self.next_check = self.clock() + MEMORY_CHECK_SECONDS
        try:
            size = self.ceiling.exceeded()
        except (OSError, ValueError) as error:
            logger.error("MAX_WORKER_MEMORY_MB is not checked in this worker: %s", error)
            self.ceiling = None
            return False
        if size is None:
            return False
        self.memory_kib = size
        logger.warning(self.ceiling.warning(os.getpid(), size))
        self._stop_taking()
        return True

    def _stop_taking(self) -> None:
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

    def leaving(self) -> bool:
        """Whether the main loop ended for the request limit or the ceiling (not for SIGTERM)."""
        over = self.memory_kib is not None or self.state.total_requests >= self.state.limit
        return over and not self.server.should_exit

    async def drain(self) -> None:
        self.request_limit_taken()  # if Uvicorn's count reached it first
        deadline = time.monotonic() + self.server.config.timeout_keep_alive + 1
        while self.state.connections and not self.server.should_exit and time.monotonic() < deadline:
            await asyncio.sleep(POLL_SECONDS)
        if self.memory_kib is None:
            logger.info("Recycled after %d requests (limit %d).", self.state.taken, self.state.limit)
        else:
            logger.info("Recycled after %d requests (memory above its ceiling).", self.state.total_requests)

    def drained(self) -> bool:
        """Whether nothing is left for Uvicorn's shutdown to wait for: no connection, no request."""
        return not (self.state.connections or self.state.tasks or self.server.should_exit)

    async def shut_down_drained(self, sockets: list[socket.socket] | None) -> None:
        """Uvicorn's shutdown with nothing left to wait for. Uvicorn's own pauses 0.1 s, however
        little is left, for open connections to act on being told to shut down; a recycled
        worker's replacement is forked only once it has exited, so each recycle would leave one
        worker fewer for that long (the measured cost: docs/production.md)."""
        logger.info("Shutting down")
        for listening in self.server.servers:
            listening.close()
        for handed in sockets or []:
            handed.close()
        if not self.server.force_exit:
            await self.server.lifespan.shutdown()


def drain_before_recycling(ceiling: MemoryCeiling | None = None) -> None:
    """Makes every Uvicorn server of this process hold to its request limit, check its memory
    against `ceiling` if one is given, and drain before it shuts down for either (see the
    module's docstring). Called again, the last call's ceiling holds."""

    async def limited_startup(self: Server, sockets: list[socket.socket] | None = None) -> None:
        limit = self.limit_max_requests  # a Gunicorn worker without max_requests has sys.maxsize
        if limit is not None and (limit < sys.maxsize or ceiling is not None):
            recycler = Recycler(self, limit, list(sockets or []), ceiling)
            self.recycler = recycler
            self.server_state = recycler.state
            if limit < sys.maxsize:
                self.config.loaded_app = RequestLimit(
                    self.config.loaded_app, recycler.state, recycler.request_limit_taken
                )
        await UVICORNS_STARTUP(self, sockets)

    async def draining_shutdown(self: Server, sockets: list[socket.socket] | None = None) -> None:
        recycler: Recycler | None = getattr(self, "recycler", None)
        if recycler is not None and recycler.leaving():
            await recycler.drain()
            if recycler.drained():
                await recycler.shut_down_drained(sockets)
                return
        await UVICORNS_SHUTDOWN(self, sockets)

    async def checking_tick(self: Server, counter: int) -> bool:
        if await UVICORNS_TICK(self, counter):
            return True
        recycler: Recycler | None = getattr(self, "recycler", None)
        return recycler is not None and recycler.memory_exceeded()

    Server.startup = limited_startup
    Server.shutdown = draining_shutdown
    Server.on_tick = UVICORNS_TICK if ceiling is None else checking_tick
