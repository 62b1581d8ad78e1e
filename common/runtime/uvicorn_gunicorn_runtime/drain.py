"""DRAIN_SECONDS: after SIGTERM, Gunicorn's master keeps serving that long, then stops gracefully.

Kubernetes sends SIGTERM while it removes the pod from its Services' endpoints, and proxies
keep sending new connections until they have seen the change. Gunicorn closes its listening
sockets at SIGTERM, so those connections are refused. During a drain the master only says so
(one line, and in the health check's record, so that `/healthcheck --ready` fails while
`--live` passes) and goes on: the workers get no signal and keep accepting and answering.
When the drain is over, or at a second SIGTERM, Gunicorn's own SIGTERM handling runs as
without a drain: listeners closed, workers stopped within the graceful timeout. SIGINT and
SIGQUIT still stop at once, drain or not.

Gunicorn creates its arbiter itself, inside its application's run(): the drain takes over that
instance's SIGTERM handler and its wait for signals in the when_ready hook, which runs before
the main loop reads the first signal (a SIGTERM before it waits in the queue).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping

from gunicorn.arbiter import Arbiter

from uvicorn_gunicorn_runtime.healthcheck import Draining, record_sockets


def record_listeners(arbiter: Arbiter, draining: Draining | None, environ: Mapping[str, str] = os.environ) -> None:
    """The health check's record of where `arbiter` listens, and of a drain under way."""
    record_sockets([listener.sock for listener in arbiter.LISTENERS], environ, draining=draining)


class Drain:
    """The drain of one master: idle until its first SIGTERM, then `seconds` long."""

    def __init__(
        self,
        seconds: int,
        record: Callable[[Arbiter, Draining | None], None] = record_listeners,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.seconds = seconds
        self._record = record
        self._clock = clock
        self._arbiter: Arbiter | None = None
        self._started: float | None = None  # by `clock`, at the first SIGTERM
        self.draining: Draining | None = None  # for the record: its end by the wall clock

    def attach(self, arbiter: Arbiter) -> None:
        """Takes over `arbiter`'s SIGTERM handler and its wait for signals (again after a
        reload: the same methods)."""
        self._arbiter = arbiter
        arbiter.handle_term = self.handle_term
        arbiter.wait_for_signals = self.wait_for_signals

    def handle_term(self) -> None:
        """SIGTERM, called from the master's loop: the drain starts; a second one ends it."""
        arbiter = self._require_arbiter()
        if self._started is not None:
            self._stop("ended by a second SIGTERM")
        self._started = self._clock()
        self.draining = (time.time() + self.seconds, self.seconds)
        self._record(arbiter, self.draining)
        arbiter.log.info(
            "Draining for %d s (DRAIN_SECONDS): still accepting and answering, /healthcheck --ready fails;"
            " then the graceful stop (graceful timeout %d s)",
            self.seconds,
            arbiter.cfg.graceful_timeout,
        )

    def wait_for_signals(self, timeout: float = 1.0) -> list[int]:
        """Gunicorn's wait, never past the end of a drain; at its end, Gunicorn's SIGTERM."""
        arbiter = self._require_arbiter()
        if self._started is None:
            return self._wait(arbiter, timeout)
        left = self._started + self.seconds - self._clock()
        if left <= 0:
            self._stop("over")
        return self._wait(arbiter, min(timeout, left))

    def _stop(self, how: str) -> None:
        """Ends the drain the way Gunicorn's own handle_term ends its loop: a graceful halt."""
        arbiter = self._require_arbiter()
        elapsed = self._clock() - (self._started or 0)
        arbiter.log.info(
            "Drain %s after %.1f s: stopping gracefully (graceful timeout %d s)",
            how,
            elapsed,
            arbiter.cfg.graceful_timeout,
        )
        raise StopIteration

    @staticmethod
    def _wait(arbiter: Arbiter, timeout: float) -> list[int]:
        signals: list[int] = Arbiter.wait_for_signals(arbiter, timeout)
        return signals

    def _require_arbiter(self) -> Arbiter:
        if self._arbiter is None:
            raise RuntimeError("the drain is not attached to Gunicorn's arbiter")
        return self._arbiter
