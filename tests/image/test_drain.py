"""DRAIN_SECONDS: a rolling update without failed requests, measured under load.

Kubernetes sends SIGTERM while proxies still send the pod new connections for a few seconds.
Here clients on keep-alive connections and clients that open a connection per request load
the container at its own address (as kube-proxy reaches a pod's) while it gets SIGTERM. With
a drain: no request fails during it, `/healthcheck --ready` fails while `--live` passes, new
connections are refused only after it, and the server exits 0. Without one (the default, what
users see today): new connections are refused at once.

Every window comes from the server's own log times (LOG_FORMAT=json: when the master wrote
each line, by the clock the clients read too), never from how fast anything ran here.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime

import pytest

from devtools.polling import poll
from tests.conftest import PROBE_APP, ChildImages
from tests.image.server import Server, is_emulated, serve
from tests.image.waiting import slowdown

DRAIN_SECONDS = 6  # natively; under emulation, EMULATION_SLOWDOWN times as long
# A slow request keeps the container up this long after its listeners have closed, so that
# new connections meet a server that refuses them (not one that has gone).
HOLD_SECONDS = 5
KEEP_ALIVE_CLIENTS = 3
NEW_CONNECTION_CLIENTS = 2
PACE_SECONDS = 0.05  # between one client's requests: a steady load, not a flood
# A connection is the kernel's handshake, as fast under emulation (QEMU runs user space
# only). Once the container has gone, its address answers nothing: a connection attempt
# then waits this long, not a request's whole timeout.
CONNECT_SECONDS = 5
KEEP_ALIVE, NEW_CONNECTION = "keep-alive", "new connection"
REFUSED = "ConnectionRefusedError"
SIGTERM_HANDLED = "Handling signal: term"
DRAIN_STARTED = "Draining for "
DRAIN_OVER = "Drain over after "
STOPPED = "Shutting down: Master"


@dataclass(frozen=True)
class Attempt:
    kind: str  # KEEP_ALIVE or NEW_CONNECTION
    reused: bool  # sent on a connection that had carried an earlier request
    sent: float  # time.time(), as the server's log times
    ended: float
    outcome: str  # the status, or the error's class

    @property
    def ok(self) -> bool:
        return self.outcome == "200"


@dataclass
class Load:
    """Clients that never retry: each request's outcome is recorded as it came."""

    host: str
    timeout: float
    attempts: list[Attempt] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stopping: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)

    def _request(
        self, connection: http.client.HTTPConnection, kind: str, path: str = "/", seconds: float = 0
    ) -> Attempt:
        """One request on `connection`, connected first if it is not (new, or closed after an
        error); the answer may take `seconds` more than the timeout."""
        reused = connection.sock is not None
        sent = time.time()
        try:
            if not reused:
                connection.timeout = CONNECT_SECONDS
                connection.connect()
                connection.sock.settimeout(self.timeout + seconds)
            connection.request("GET", path, headers={} if kind == KEEP_ALIVE else {"Connection": "close"})
            response = connection.getresponse()
            response.read()
            outcome = str(response.status)
        except (OSError, http.client.HTTPException) as error:
            outcome = type(error).__name__
            connection.close()
        attempt = Attempt(kind, reused, sent, time.time(), outcome)
        with self.lock:
            self.attempts.append(attempt)
        return attempt

    def _keep_alive_client(self) -> None:
        connection = http.client.HTTPConnection(self.host, 80)
        while not self.stopping.is_set():
            self._request(connection, KEEP_ALIVE)
            self.stopping.wait(PACE_SECONDS)
        connection.close()

    def _new_connection_client(self) -> None:
        while not self.stopping.is_set():
            connection = http.client.HTTPConnection(self.host, 80)
            self._request(connection, NEW_CONNECTION)
            connection.close()
            self.stopping.wait(PACE_SECONDS)

    def slow(self, seconds: float) -> str:
        """One request the application takes `seconds` to answer, on a connection of its own."""
        connection = http.client.HTTPConnection(self.host, 80)
        try:
            return self._request(connection, "slow", f"/slow?seconds={seconds}", seconds).outcome
        finally:
            connection.close()

    def start(self, until_answered: float) -> None:
        """Starts every client, and returns once each has had an answer."""
        clients: list[Callable[[], None]] = [self._keep_alive_client] * KEEP_ALIVE_CLIENTS
        clients += [self._new_connection_client] * NEW_CONNECTION_CLIENTS
        self.threads = [threading.Thread(target=client, daemon=True) for client in clients]
        for thread in self.threads:
            thread.start()
        needed = {KEEP_ALIVE: KEEP_ALIVE_CLIENTS, NEW_CONNECTION: NEW_CONNECTION_CLIENTS}
        answered = poll(
            self._answered, lambda counts: all(counts[kind] >= n for kind, n in needed.items()), until_answered
        )
        assert all(answered[kind] >= n for kind, n in needed.items()), (answered, self.attempts[-10:])

    def _answered(self) -> dict[str, int]:
        with self.lock:
            return {kind: sum(a.ok and a.kind == kind for a in self.attempts) for kind in (KEEP_ALIVE, NEW_CONNECTION)}

    def refused(self) -> bool:
        with self.lock:
            return any(attempt.outcome == REFUSED for attempt in self.attempts)

    def stop(self) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=self.timeout + CONNECT_SECONDS)
        assert not any(thread.is_alive() for thread in self.threads), "a client did not stop"


@dataclass(frozen=True)
class Shutdown:
    """What the clients saw, and what the server said, from SIGTERM to its exit."""

    attempts: list[Attempt]  # those sent before the server exited
    slow: str  # the outcome of the slow request
    ready: tuple[int, str]  # /healthcheck --ready after SIGTERM: exit code, output
    live: tuple[int, str]
    exit_code: int
    messages: list[tuple[float, str]]  # the server's log lines: when it wrote each, and what

    def time_of(self, start: str) -> float:
        """When the server wrote the one line that starts so."""
        times = [when for when, message in self.messages if message.startswith(start)]
        assert len(times) == 1, f"{len(times)} lines start with {start!r}: {self.messages}"
        return times[0]

    def drained_for(self) -> float:
        """How long the drain lasted, as the master says it measured it."""
        [seconds] = [float(message.split()[3]) for _, message in self.messages if message.startswith(DRAIN_OVER)]
        return seconds

    def failed(self) -> list[Attempt]:
        return [attempt for attempt in self.attempts if not attempt.ok]


def _messages(logs: str) -> list[tuple[float, str]]:
    """The server's own lines (LOG_FORMAT=json), with the time each was written."""
    found = []
    for line in logs.splitlines():
        entry = json.loads(line) if line.startswith("{") else {}
        if "time" in entry and "message" in entry:
            found.append((datetime.fromisoformat(entry["time"]).timestamp(), entry["message"]))
    return found


def _probe(server: Server, word: str) -> tuple[int, str]:
    result = server.container.exec(["/healthcheck", word])
    assert result.exit_code is not None
    return result.exit_code, result.output.decode()


def _message_pattern(start: str) -> str:
    return f'"message": "{start}'


def _shut_down_under_load(server: Server, drain: int) -> Shutdown:
    """SIGTERM (docker kill --signal TERM) under load; a slow request in flight keeps the
    container up after its listeners have closed: sent during the drain, or before SIGTERM
    without one."""
    hold = _hold_seconds(server.platform)
    load = Load(server.ip_address(), timeout=30 * slowdown(server.emulated))
    wrapped = server.container.get_wrapped_container()
    with ThreadPoolExecutor(max_workers=1) as pool:
        try:
            load.start(until_answered=server.deadline())
            if not drain:
                slow = pool.submit(load.slow, hold)
                server.wait_for_log(r"probe: slow request started")
            wrapped.kill(signal="SIGTERM")
            server.wait_for_log(_message_pattern(DRAIN_STARTED if drain else SIGTERM_HANDLED))
            if drain:
                slow = pool.submit(load.slow, drain + hold)
                server.wait_for_log(r"probe: slow request started")
            else:
                # A refused connection: no process of the server listens any more (the workers
                # close their copies of the socket a moment after the master closes its own).
                poll(load.refused, bool, server.deadline())
            ready, live = _probe(server, "--ready"), _probe(server, "--live")
            exit_code = wrapped.wait(timeout=drain + hold + server.deadline())["StatusCode"]
        finally:
            load.stop()
        outcome = slow.result(timeout=load.timeout)
    messages = _messages(server.logs())
    # Once the server has exited, its address may go to another container of this busy engine:
    # only requests sent before the master's last line reached this server.
    exited = max((when for when, message in messages if message == STOPPED), default=float("inf"))
    attempts = [attempt for attempt in load.attempts if attempt.sent <= exited]
    return Shutdown(attempts, outcome, ready, live, exit_code, messages)


def _drain_seconds(platform: str) -> int:
    return DRAIN_SECONDS * slowdown(is_emulated(platform))


def _hold_seconds(platform: str) -> int:
    return HOLD_SECONDS * slowdown(is_emulated(platform))


def _env(platform: str, drain: int) -> dict[str, str]:
    return {
        "WEB_CONCURRENCY": "2",
        "LOG_FORMAT": "json",
        "ACCESS_LOG": "",
        "GRACEFUL_TIMEOUT": str(_hold_seconds(platform) + 60),  # the slow request ends well within it
        **({"DRAIN_SECONDS": str(drain)} if drain else {}),
    }


@pytest.mark.every_platform
def test_during_the_drain_no_request_fails_and_new_connections_are_refused_only_after(
    child_images: ChildImages, platform: str
) -> None:
    child = child_images.build(platform, {"main.py": PROBE_APP})
    drain = _drain_seconds(platform)
    with serve(child, platform, env=_env(platform, drain)) as server:
        assert server.settings()["drain_seconds"] == drain
        shutdown = _shut_down_under_load(server, drain)
    signalled, started, over = (shutdown.time_of(line) for line in (SIGTERM_HANDLED, DRAIN_STARTED, DRAIN_OVER))
    assert shutdown.exit_code == 0, shutdown.messages
    assert shutdown.messages[-1][1] == STOPPED
    assert signalled <= started, "the drain starts as SIGTERM is handled"
    # The master times the drain on its monotonic clock, from just before it records the drain
    # for the health check and logs the start: its log's times measure the drain a little short.
    assert shutdown.drained_for() >= drain, shutdown.messages
    assert drain - 1 <= over - started <= drain + 5 * slowdown(server.emulated), (started, over)
    # During the drain: every request answered, on connections kept alive and on new ones.
    assert [attempt for attempt in shutdown.failed() if attempt.ended <= over] == []
    answered = [
        attempt for attempt in shutdown.attempts if attempt.ok and started <= attempt.sent <= attempt.ended <= over
    ]
    assert any(attempt.kind == KEEP_ALIVE and attempt.reused for attempt in answered), shutdown.attempts
    assert any(attempt.kind == NEW_CONNECTION for attempt in answered), shutdown.attempts
    # After it: new connections refused (the slow request, sent during the drain, still answered).
    refused = [
        attempt for attempt in shutdown.attempts if attempt.kind == NEW_CONNECTION and attempt.outcome == REFUSED
    ]
    assert refused, shutdown.attempts
    assert all(attempt.ended > over for attempt in refused), refused
    assert shutdown.slow == "200"
    code, output = shutdown.ready
    assert code == 1 and output.startswith("not ready: draining: ") and f"of DRAIN_SECONDS={drain}," in output
    code, output = shutdown.live
    assert code == 0 and output.startswith("alive: 127.0.0.1:80: GET / answered 200 in ") and "; draining: " in output
    after = shutdown.failed()
    print(
        f"drain {over - started:.2f} s: {len(answered)} requests answered during it"
        f" ({sum(a.kind == NEW_CONNECTION for a in answered)} on new connections), none failed;"
        f" after it {len(after)} failed ({len(refused)} new connections refused)"
    )


@pytest.mark.every_platform
def test_without_a_drain_new_connections_are_refused_at_once(child_images: ChildImages, platform: str) -> None:
    """What users see today, and the default: the difference the drain makes."""
    child = child_images.build(platform, {"main.py": PROBE_APP})
    with serve(child, platform, env=_env(platform, 0)) as server:
        assert server.settings()["drain_seconds"] == 0
        shutdown = _shut_down_under_load(server, 0)
    drain = _drain_seconds(platform)  # the drain of the test above
    signalled = shutdown.time_of(SIGTERM_HANDLED)
    assert shutdown.exit_code == 0, shutdown.messages
    assert not any(message.startswith(("Draining", "Drain ")) for _, message in shutdown.messages)
    refused = [
        attempt
        for attempt in shutdown.attempts
        if attempt.kind == NEW_CONNECTION and attempt.outcome == REFUSED and attempt.sent >= signalled
    ]
    assert refused, shutdown.attempts
    first = min(refused, key=lambda attempt: attempt.ended)
    # Refused well within the time a drain would have kept answering, and from then on always.
    assert first.ended - signalled < drain, first
    assert not any(
        attempt.ok for attempt in shutdown.attempts if attempt.kind == NEW_CONNECTION and attempt.sent >= first.ended
    )
    assert shutdown.slow == "200"  # requests in flight still finish, as they do after a drain
    code, output = shutdown.ready
    assert code == 1 and output.startswith("not ready: cannot connect to 127.0.0.1:80"), output
    code, output = shutdown.live
    assert code == 1 and output.startswith("not alive: cannot connect to 127.0.0.1:80"), output
    failed = [attempt for attempt in shutdown.failed() if attempt.ended >= signalled]
    print(
        f"refused {first.ended - signalled:.3f} s after SIGTERM was handled; {len(failed)} requests failed after it"
        f" ({sum(a.kind == KEEP_ALIVE for a in failed)} on keep-alive connections)"
    )


@pytest.mark.parametrize(
    ("second", "handled", "drain_ended"),
    [
        ("SIGTERM", "Handling signal: term", "Drain ended by a second SIGTERM after "),
        ("SIGINT", "Handling signal: int", None),  # Gunicorn's quick stop, drain or not
        ("SIGQUIT", "Handling signal: quit", None),
    ],
    ids=["SIGTERM", "SIGINT", "SIGQUIT"],
)
def test_a_second_signal_ends_the_drain(
    child_images: ChildImages, platform: str, second: str, handled: str, drain_ended: str | None
) -> None:
    """A drain of 600 s: the container exits long before, and by itself (exit 0)."""
    child = child_images.build(platform, {"main.py": PROBE_APP})
    env = {"DRAIN_SECONDS": "600", "GRACEFUL_TIMEOUT": "20", "LOG_FORMAT": "json"}
    with serve(child, platform, env=env) as server:
        wrapped = server.container.get_wrapped_container()
        wrapped.kill(signal="SIGTERM")
        server.wait_for_log(_message_pattern(DRAIN_STARTED))
        wrapped.kill(signal=second)
        exit_code = wrapped.wait(timeout=server.deadline())["StatusCode"]
        messages = [message for _, message in _messages(server.logs())]
    assert exit_code == 0, messages
    assert messages.count(handled) == (2 if second == "SIGTERM" else 1), messages
    ended = [message for message in messages if message.startswith("Drain ")]
    if drain_ended is None:
        assert ended == [], messages
    else:
        assert len(ended) == 1 and ended[0].startswith(drain_ended), messages
    assert messages[-1] == STOPPED
