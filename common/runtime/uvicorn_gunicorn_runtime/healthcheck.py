"""The image's health check: asks the server for an HTTP answer where it really listens.

    /healthcheck [--ready | --live] [--timeout SECONDS]   # = python -m uvicorn_gunicorn_runtime.healthcheck

Exit code 0 when healthy, 1 when not, with one line saying why either way (docker inspect
shows it). Without HEALTHCHECK_PATH any HTTP answer to GET / is healthy; with it, GET of that
path must answer 2xx or 3xx. `--live` (a liveness probe) asks the same; `--ready` (a
readiness probe) also fails while the server drains after SIGTERM (DRAIN_SECONDS): it is
answering still, but about to stop. Without either word, as before them: Docker's HEALTHCHECK.

Where the server listens is known for sure only to the server: a prestart script, a `-b` in
GUNICORN_CMD_ARGS or the application's own Gunicorn configuration may move it, and none of
them reaches the environment of `docker exec`. So the server writes RECORD at start (Gunicorn's
master from its listening sockets, in its when_ready hook; the launcher before it becomes
Uvicorn), with HEALTHCHECK_PATH as the server saw it; without that file the check falls back
to the environment, read by the same rules as the server's settings. A wildcard address
(0.0.0.0, ::) is asked on loopback.

It runs every few seconds, so it imports only what it needs: the environment reader and the
bind grammar only without a record, and none of the rest of the settings.
"""

from __future__ import annotations

import math
import os
import socket
import sys
import time

TYPE_CHECKING = False  # typing, collections and pathlib would cost every check milliseconds
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

# In memory: writable by any user, also on a read-only root; gone with the container.
RECORD = "/dev/shm/uvicorn-gunicorn-health"
# Below Docker's HEALTHCHECK --timeout (3 s, see the Dockerfile), so that the check reports
# why it failed before Docker stops it.
DEFAULT_TIMEOUT_SECONDS = 2.0
LOOPBACK = {"0.0.0.0": ("127.0.0.1",), "": ("127.0.0.1",), "::": ("::1", "127.0.0.1")}
MAX_STATUS_LINE = 8192
USER_AGENT = "uvicorn-gunicorn-healthcheck"
USAGE = "usage: healthcheck [--ready | --live] [--timeout SECONDS]"
# What a check says of the server when it passes, and when it fails: by default (Docker's
# HEALTHCHECK), and for each probe's word.
HEALTH = ("healthy", "unhealthy")
MODES = {"--ready": ("ready", "not ready"), "--live": ("alive", "not alive")}


class Unhealthy(Exception):
    """The server did not answer as it should; the message says why."""


# An address is ("tcp", host, port) or ("unix", path).
Address = tuple[str, ...]
# A drain under way: when it ends (seconds since the epoch, the clock every process of the
# container shares) and DRAIN_SECONDS.
Draining = tuple[float, int]
# What the server recorded: its addresses, HEALTHCHECK_PATH, a drain under way.
Record = tuple[list[Address], str | None, Draining | None]


def tcp(host: str, port: int) -> Address:
    return ("tcp", host, str(port))


def unix(path: str) -> Address:
    return ("unix", path)


def describe(address: Address) -> str:
    if address[0] == "unix":
        return f"unix:{address[1]}"
    host = f"[{address[1]}]" if ":" in address[1] else address[1]
    return f"{host}:{address[2]}"


def socket_address(listener: socket.socket) -> Address | None:
    """Where a listening socket is bound; None for an abstract or unnamed unix socket."""
    name = listener.getsockname()
    if listener.family == socket.AF_UNIX:
        return unix(name) if isinstance(name, str) and name else None
    return tcp(name[0], name[1])


def write_record(
    addresses: Iterable[Address], path: str | None, record: str | None = None, draining: Draining | None = None
) -> None:
    """Replaces the record at once, so that a check never reads half of it. A record that
    cannot be written leaves the check to the environment, with one warning line."""
    record = record or RECORD
    lines = [f"path {path}"] if path else []
    lines += [" ".join(address) for address in addresses]
    if draining is not None:
        lines.append(f"draining {draining[0]:.3f} {draining[1]}")
    directory, _, name = record.rpartition("/")
    temporary = f"{directory}/.{name}.{os.getpid()}"
    try:
        with open(temporary, "w", encoding="utf-8") as file:
            file.write("".join(f"{line}\n" for line in lines))
        os.replace(temporary, record)
    except OSError as error:
        print(f"warning: the health check's record {record} cannot be written: {error}", file=sys.stderr, flush=True)


def record_sockets(
    listeners: Iterable[socket.socket],
    environ: Mapping[str, str],
    record: str | None = None,
    draining: Draining | None = None,
) -> None:
    """Gunicorn's master, from its listening sockets; the launcher has checked HEALTHCHECK_PATH."""
    addresses = [address for address in map(socket_address, listeners) if address is not None]
    write_record(addresses, environ.get("HEALTHCHECK_PATH") or None, record, draining)


def read_record(record: str) -> Record | None:
    """What the server recorded; None without a record."""
    try:
        with open(record, encoding="utf-8") as file:
            text = file.read()
    except FileNotFoundError:
        return None
    addresses: list[Address] = []
    path = None
    draining = None
    for line in text.splitlines():
        kind, _, rest = line.partition(" ")
        if kind == "path":
            path = rest
        elif kind == "unix":
            addresses.append(unix(rest))
        elif kind == "tcp":
            host, _, port = rest.rpartition(" ")
            addresses.append(tcp(host, int(port)))
        elif kind == "draining":
            until, _, seconds = rest.partition(" ")
            draining = (float(until), int(seconds))
        else:
            raise Unhealthy(f"{record} has a line this check does not know: {line!r}")
    return addresses, path, draining


def from_environment(environ: Mapping[str, str]) -> tuple[list[Address], str | None]:
    from uvicorn_gunicorn_runtime.binding import bind_address, bind_from
    from uvicorn_gunicorn_runtime.environment import Environment, SettingError, healthcheck_path

    env = Environment(environ)
    try:
        bind = bind_from(env)
        path = healthcheck_path(env)
    except SettingError as error:
        raise Unhealthy(f"error: {error}") from None
    address = bind_address(bind)
    if address is None:
        raise Unhealthy(f"BIND={bind!r}: its address is known only from the server's record {RECORD}, which is missing")
    return [unix(address) if isinstance(address, str) else tcp(*address)], path


def connect(address: Address, deadline: float) -> tuple[socket.socket, str]:
    """A connection to the address (a wildcard on loopback), and where it went."""
    if address[0] == "unix":
        timeout = _remaining(deadline, address)
        connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            connection.settimeout(timeout)
            connection.connect(address[1])
        except OSError as error:
            connection.close()
            raise Unhealthy(f"cannot connect to {describe(address)}: {_reason(error)}") from None
        return connection, describe(address)
    port = int(address[2])
    failures = []
    for host in LOOPBACK.get(address[1], (address[1],)):
        try:
            connection = socket.create_connection((host, port), timeout=_remaining(deadline, address))
        except OSError as error:
            failures.append(f"{describe(tcp(host, port))}: {_reason(error)}")
            continue
        return connection, describe(tcp(host, port))
    raise Unhealthy(f"cannot connect to {', '.join(failures)}")


def status_of(address: Address, path: str, deadline: float) -> tuple[int, str]:
    """The status code of GET `path`, and where it was asked."""
    connection, host = connect(address, deadline)
    host_header = "localhost" if address[0] == "unix" else host
    request = f"GET {path} HTTP/1.1\r\nHost: {host_header}\r\nUser-Agent: {USER_AGENT}\r\nConnection: close\r\n\r\n"
    answer = b""
    with connection:
        try:
            connection.settimeout(_remaining(deadline, address))
            connection.sendall(request.encode("ascii"))
            while b"\r\n" not in answer and len(answer) < MAX_STATUS_LINE:
                connection.settimeout(_remaining(deadline, address))
                chunk = connection.recv(4096)
                if not chunk:
                    break
                answer += chunk
        except TimeoutError:
            raise Unhealthy(f"{host}: no answer to GET {path} in time") from None
        except OSError as error:
            raise Unhealthy(f"{host}: GET {path} failed: {_reason(error)}") from None
    line = answer.partition(b"\r\n")[0]
    parts = line.split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/") or not (parts[1].isdigit() and len(parts[1]) == 3):
        seen = repr(line[:80]) if line else "nothing"
        raise Unhealthy(f"{host}: GET {path} got no HTTP answer ({seen}) before the connection closed")
    return int(parts[1]), host


def _remaining(deadline: float, address: Address) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise Unhealthy(f"{describe(address)}: no answer in time")
    return left


def _reason(error: OSError) -> str:
    return error.strerror or str(error) or type(error).__name__


def drain_state(draining: Draining) -> str:
    """Where a drain is: seconds left of it, or over (the graceful stop under way)."""
    until, seconds = draining
    left = until - time.time()
    if left <= 0:
        return f"stopping: the drain of DRAIN_SECONDS={seconds} is over"
    # The record keeps milliseconds, rounded: a check at once could find a hair more than `seconds` left.
    shown = min(math.ceil(left), seconds)
    return f"draining: {shown} s left of DRAIN_SECONDS={seconds}, then the graceful stop"


def check(environ: Mapping[str, str], timeout: float, record: str | None = None, mode: str | None = None) -> str:
    """The line a passing check prints; raises Unhealthy otherwise. The first address is
    asked: every listener of one server reaches the same workers. A server that drains is not
    ready (--ready), and is not asked."""
    started = time.monotonic()
    record = record or RECORD
    recorded = read_record(record)
    addresses, path, draining = recorded if recorded is not None else (*from_environment(environ), None)
    if mode == "--ready" and draining is not None:
        raise Unhealthy(drain_state(draining))
    if not addresses:
        raise Unhealthy(f"{record} names no address the check can connect to")
    status, host = status_of(addresses[0], path or "/", started + timeout)
    milliseconds = round((time.monotonic() - started) * 1000)
    if path is not None and not 200 <= status < 400:
        raise Unhealthy(f"{host}: GET {path} answered {status}, expected 2xx or 3xx (HEALTHCHECK_PATH)")
    passed = f"{words(mode)[0]}: {host}: GET {path or '/'} answered {status} in {milliseconds} ms"
    return passed if draining is None else f"{passed}; {drain_state(draining)}"


def words(mode: str | None) -> tuple[str, str]:
    """What a check in `mode` says of the server when it passes, and when it fails."""
    return MODES.get(mode or "", HEALTH)


def _seconds(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        seconds = 0
    if 0 < seconds <= 3600:
        return seconds
    raise Unhealthy(f"error: --timeout {text!r} is not valid: expected seconds above 0, such as 2 or 0.5")


def options(argv: list[str]) -> tuple[str | None, float]:
    """The mode word (--ready, --live or None) and the timeout, in either order."""
    mode: str | None = None
    timeout: float | None = None
    rest = list(argv)
    while rest:
        word = rest.pop(0)
        if word in MODES and mode is None:
            mode = word
        elif word == "--timeout" and rest and timeout is None:
            timeout = _seconds(rest.pop(0))
        else:
            raise Unhealthy(f"error: unknown arguments {argv}; {USAGE}")
    return mode, DEFAULT_TIMEOUT_SECONDS if timeout is None else timeout


def main(argv: list[str], environ: Mapping[str, str] = os.environ, record: str | None = None) -> int:
    """Exit code 1, never 2, when unhealthy: Docker reserves 2."""
    failed = words(None)[1]
    try:
        mode, timeout = options(argv[1:])
        failed = words(mode)[1]
        print(check(environ, timeout, record, mode), flush=True)
    except Unhealthy as reason:
        text = str(reason)
        print(text if text.startswith("error:") else f"{failed}: {text}", flush=True)
        return 1
    except (OSError, ValueError) as error:  # an unreadable record; a name that cannot be resolved
        print(f"{failed}: {type(error).__name__}: {error}", flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
