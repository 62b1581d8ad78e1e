"""The image's health check against real sockets in this process: where it connects, what it
sends, and how it judges the answer."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from uvicorn_gunicorn_runtime import healthcheck, launch
from uvicorn_gunicorn_runtime.environment import SettingError
from uvicorn_gunicorn_runtime.healthcheck import (
    Address,
    Record,
    Unhealthy,
    check,
    from_environment,
    main,
    read_record,
    record_sockets,
    tcp,
    unix,
    write_record,
)
from uvicorn_gunicorn_runtime.limits import CpuLimit
from uvicorn_gunicorn_runtime.settings import load_settings


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


needs_ipv6 = pytest.mark.skipif(not _ipv6_loopback(), reason="no IPv6 loopback here")


@dataclass
class Server:
    """A listening socket that answers each connection as `answer` says: bytes to send, or
    None to read the request and never answer."""

    listener: socket.socket
    answer: bytes | None
    requests: list[bytes] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def serve(self) -> None:
        while not self.stop.is_set():
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            with connection:
                request = b""
                while b"\r\n\r\n" not in request:
                    chunk = connection.recv(4096)
                    if not chunk:
                        break
                    request += chunk
                self.requests.append(request)
                if self.answer is None:
                    self.stop.wait(10)
                else:
                    connection.sendall(self.answer)


def http(status: int) -> bytes:
    return f"HTTP/1.1 {status} Whatever\r\nContent-Length: 0\r\n\r\n".encode()


@contextmanager
def serving(
    family: socket.AddressFamily, address: str | tuple[str, int], answer: bytes | None = http(200)
) -> Iterator[Server]:
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.bind(address)
    listener.listen(8)
    server = Server(listener, answer)
    thread = threading.Thread(target=server.serve, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.stop.set()
        listener.shutdown(socket.SHUT_RDWR)
        listener.close()
        thread.join(5)


@pytest.fixture
def record(tmp_path: Path) -> str:
    return str(tmp_path / "health")


def _port(server: Server) -> int:
    port: int = server.listener.getsockname()[1]
    return port


# The record


@pytest.mark.parametrize(
    "addresses",
    [
        [tcp("0.0.0.0", 80)],
        [tcp("::", 8080), tcp("127.0.0.1", 9000)],
        [tcp("::1", 80)],
        [unix("/tmp/with a space.sock")],
        [],
    ],
)
@pytest.mark.parametrize("path", [None, "/health?deep=1"])
def test_record_round_trip(record: str, addresses: list[Address], path: str | None) -> None:
    write_record(addresses, path, record)
    assert read_record(record) == (addresses, path, None)


def test_no_record_is_none(record: str) -> None:
    assert read_record(record) is None


def test_an_unwritable_record_is_one_warning(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_record([tcp("0.0.0.0", 80)], None, str(tmp_path / "missing" / "health"))
    err = capsys.readouterr().err
    assert err.startswith("warning: the health check's record ") and err.count("\n") == 1


def test_gunicorn_listeners_are_recorded_as_bound(record: str, tmp_path: Path) -> None:
    """Gunicorn's hook hands over its listening sockets: their real addresses are recorded."""
    sockets = [socket.socket(socket.AF_INET), socket.socket(socket.AF_UNIX)]
    sockets[0].bind(("127.0.0.1", 0))
    sockets[1].bind(str(tmp_path / "app.sock"))
    if _ipv6_loopback():
        sockets.append(socket.socket(socket.AF_INET6))
        sockets[2].bind(("::1", 0))
    try:
        record_sockets(sockets, {"HEALTHCHECK_PATH": "/ready"}, record)
        expected = [tcp("127.0.0.1", sockets[0].getsockname()[1]), unix(str(tmp_path / "app.sock"))]
        if len(sockets) == 3:
            expected.append(tcp("::1", sockets[2].getsockname()[1]))
        assert read_record(record) == (expected, "/ready", None)
    finally:
        for each in sockets:
            each.close()


# Where the check connects without a record: the environment, by the server's own rules


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, tcp("0.0.0.0", 80)),
        ({"PORT": "8080"}, tcp("0.0.0.0", 8080)),
        ({"HOST": "127.0.0.1", "PORT": "81"}, tcp("127.0.0.1", 81)),
        ({"HOST": "::", "PORT": "8080"}, tcp("::", 8080)),
        ({"HOST": "[::1]"}, tcp("::1", 80)),
        ({"HOST": "web.internal"}, tcp("web.internal", 80)),
        ({"BIND": "[::]:8080", "PORT": "9"}, tcp("::", 8080)),
        ({"BIND": "[::1]:80"}, tcp("::1", 80)),
        ({"BIND": "localhost:9000"}, tcp("localhost", 9000)),
        ({"BIND": "unix:/tmp/app.sock", "PORT": "8080"}, unix("/tmp/app.sock")),
    ],
)
def test_address_from_the_environment(env: dict[str, str], expected: Address) -> None:
    assert from_environment(env) == ([expected], None)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"BIND": "fd://3"}, "BIND='fd://3': its address is known only from the server's record"),
        ({"PORT": "http"}, "error: PORT='http' is not valid: expected a whole number from 1 to 65535"),
        ({"BIND": "::1:80"}, "error: BIND='::1:80' is not valid"),
        ({"HEALTHCHECK_PATH": "health"}, "error: HEALTHCHECK_PATH='health' is not valid: expected a path starting"),
    ],
)
def test_environment_the_check_cannot_use(env: dict[str, str], message: str) -> None:
    with pytest.raises(Unhealthy, match="^" + message.replace("?", r"\?").replace("(", r"\(")):
        from_environment(env)


def test_the_record_wins_over_the_environment(record: str) -> None:
    """A prestart script or GUNICORN_CMD_ARGS moved the server: the environment is wrong."""
    with serving(socket.AF_INET, ("127.0.0.1", 0), http(503)) as server:
        write_record([tcp("127.0.0.1", _port(server))], "/live", record)
        with pytest.raises(Unhealthy, match="GET /live answered 503"):
            check({"PORT": "1", "HEALTHCHECK_PATH": "/other"}, 2, record)
        assert server.requests[0].startswith(b"GET /live HTTP/1.1\r\n")


# What it sends, and where


def _check_recorded(record: str, address: Address, path: str | None = None, timeout: float = 2) -> str:
    write_record([address], path, record)
    return check({}, timeout, record)


def test_request_names_the_host_and_connection_close(record: str) -> None:
    with serving(socket.AF_INET, ("127.0.0.1", 0)) as server:
        port = _port(server)
        line = _check_recorded(record, tcp("127.0.0.1", port), "/health?deep=1")
    head = server.requests[0].decode()
    assert head.startswith("GET /health?deep=1 HTTP/1.1\r\n")
    assert f"\r\nHost: 127.0.0.1:{port}\r\n" in head
    assert "\r\nConnection: close\r\n" in head
    assert line.startswith(f"healthy: 127.0.0.1:{port}: GET /health?deep=1 answered 200 in ")


def test_ipv4_wildcard_is_asked_on_loopback(record: str) -> None:
    with serving(socket.AF_INET, ("127.0.0.1", 0)) as server:
        port = _port(server)
        line = _check_recorded(record, tcp("0.0.0.0", port))
    assert line.startswith(f"healthy: 127.0.0.1:{port}: GET / answered 200")


@needs_ipv6
def test_ipv6_wildcard_is_asked_on_ipv6_loopback(record: str) -> None:
    with serving(socket.AF_INET6, ("::1", 0)) as server:
        port = _port(server)
        line = _check_recorded(record, tcp("::", port))
    assert line.startswith(f"healthy: [::1]:{port}: GET / answered 200")
    assert f"\r\nHost: [::1]:{port}\r\n".encode() in server.requests[0]


def test_ipv6_wildcard_falls_back_to_ipv4_loopback(record: str) -> None:
    """Docker turns IPv6 off in a container on a network without it: [::] then listens for
    IPv4 only, and ::1 does not exist."""
    with serving(socket.AF_INET, ("127.0.0.1", 0)) as server:
        port = _port(server)
        line = _check_recorded(record, tcp("::", port))
    assert line.startswith(f"healthy: 127.0.0.1:{port}:")


@needs_ipv6
def test_ipv6_address(record: str) -> None:
    with serving(socket.AF_INET6, ("::1", 0)) as server:
        assert _check_recorded(record, tcp("::1", _port(server))).startswith("healthy: [::1]:")


def test_host_name(record: str) -> None:
    with serving(socket.AF_INET, ("127.0.0.1", 0)) as server:
        line = _check_recorded(record, tcp("localhost", _port(server)))
    assert line.startswith("healthy: localhost:")


def test_unix_socket(record: str, tmp_path: Path) -> None:
    path = str(tmp_path / "app.sock")
    with serving(socket.AF_UNIX, path) as server:
        line = _check_recorded(record, unix(path), "/health")
    assert line.startswith(f"healthy: unix:{path}: GET /health answered 200")
    assert b"\r\nHost: localhost\r\n" in server.requests[0]


def test_environment_without_a_record(record: str, tmp_path: Path) -> None:
    path = str(tmp_path / "app.sock")
    with serving(socket.AF_UNIX, path):
        assert check({"BIND": f"unix:{path}"}, 2, record).startswith(f"healthy: unix:{path}: GET / answered 200")


# How it judges the answer


@pytest.mark.parametrize("status", [200, 204, 301, 404, 500, 503])
def test_without_a_path_any_answer_is_healthy(record: str, status: int) -> None:
    with serving(socket.AF_INET, ("127.0.0.1", 0), http(status)) as server:
        assert _check_recorded(record, tcp("127.0.0.1", _port(server))).startswith("healthy:")


@pytest.mark.parametrize(
    ("status", "healthy"),
    [(200, True), (204, True), (302, True), (399, True), (400, False), (404, False), (500, False), (503, False)],
)
def test_with_a_path_only_2xx_and_3xx_are_healthy(record: str, status: int, healthy: bool) -> None:
    with serving(socket.AF_INET, ("127.0.0.1", 0), http(status)) as server:
        address = tcp("127.0.0.1", _port(server))
        if healthy:
            assert _check_recorded(record, address, "/health").startswith(f"healthy: {address[1]}:")
        else:
            with pytest.raises(Unhealthy, match=f"GET /health answered {status}, expected 2xx or 3xx"):
                _check_recorded(record, address, "/health")


def test_a_server_that_does_not_answer_is_unhealthy_in_time(record: str) -> None:
    """A blocked event loop: the connection is accepted, the answer never comes."""
    with serving(socket.AF_INET, ("127.0.0.1", 0), None) as server:
        started = time.monotonic()
        with pytest.raises(Unhealthy, match="no answer"):
            _check_recorded(record, tcp("127.0.0.1", _port(server)), timeout=0.5)
        assert 0.5 <= time.monotonic() - started < 1.5


@pytest.mark.parametrize(("answer", "seen"), [(b"", "nothing"), (b"SSH-2.0-OpenSSH\r\n", "b'SSH-2.0-OpenSSH'")])
def test_no_http_answer_is_unhealthy(record: str, answer: bytes, seen: str) -> None:
    unanswered = pytest.raises(Unhealthy, match=f"got no HTTP answer \\({seen}\\)")
    with serving(socket.AF_INET, ("127.0.0.1", 0), answer) as server, unanswered:
        _check_recorded(record, tcp("127.0.0.1", _port(server)))


def test_nothing_listening_is_unhealthy(record: str) -> None:
    # A port the kernel chose, held bound but not listening: a connection to it is refused,
    # and no other process can take it meanwhile, as it could once a probe socket is closed.
    with socket.socket() as bound:
        bound.bind(("127.0.0.1", 0))
        port = bound.getsockname()[1]
        with pytest.raises(Unhealthy, match=f"cannot connect to 127.0.0.1:{port}: Connection refused"):
            _check_recorded(record, tcp("0.0.0.0", port))


# The command


def test_main_healthy_is_exit_0_and_one_line(record: str, capsys: pytest.CaptureFixture[str]) -> None:
    with serving(socket.AF_INET, ("127.0.0.1", 0)) as server:
        write_record([tcp("0.0.0.0", _port(server))], None, record)
        assert main(["healthcheck"], {}, record) == 0
    out = capsys.readouterr().out
    assert out.startswith("healthy: ") and out.count("\n") == 1


@pytest.mark.parametrize(
    ("argv", "env", "line"),
    [
        ([], {"BIND": "unix:/nonexistent/app.sock"}, "unhealthy: cannot connect to unix:/nonexistent/app.sock: "),
        ([], {"HEALTHCHECK_PATH": "x"}, "error: HEALTHCHECK_PATH='x' is not valid: expected a path starting with /"),
        (["--timeout", "0"], {}, "error: --timeout '0' is not valid: expected seconds above 0"),
        (["--timeout", "soon"], {}, "error: --timeout 'soon' is not valid"),
        (
            ["--verbose"],
            {},
            "error: unknown arguments ['--verbose']; usage: healthcheck [--ready | --live] [--timeout SECONDS]",
        ),
        (["--ready", "--live"], {}, "error: unknown arguments ['--ready', '--live']; usage: "),
        (["--live", "--live"], {}, "error: unknown arguments ['--live', '--live']; usage: "),
        (["--timeout"], {}, "error: unknown arguments ['--timeout']; usage: "),
        (["--timeout", "1", "--timeout", "2"], {}, "error: unknown arguments ['--timeout', '1', '--timeout', '2']"),
        (["--ready"], {"BIND": "unix:/nonexistent/app.sock"}, "not ready: cannot connect to unix:/nonexistent/app"),
        (["--live"], {"BIND": "unix:/nonexistent/app.sock"}, "not alive: cannot connect to unix:/nonexistent/app"),
        ([], {"BIND": "no-such-host.invalid:80"}, "unhealthy: cannot connect to no-such-host.invalid:80: "),
    ],
)
def test_main_unhealthy_is_exit_1_and_one_line(
    record: str, capsys: pytest.CaptureFixture[str], argv: list[str], env: dict[str, str], line: str
) -> None:
    # 1, never 2: Docker reserves exit code 2 of a health check.
    assert main(["healthcheck", *argv], env, record) == 1
    captured = capsys.readouterr()
    assert captured.out.startswith(line) and captured.out.count("\n") == 1
    assert captured.err == ""


# Readiness and liveness probes, and a drain under way (DRAIN_SECONDS)


def test_record_round_trip_with_a_drain(record: str) -> None:
    write_record([tcp("0.0.0.0", 80)], "/health", record, (1796439595.25, 15))
    assert read_record(record) == ([tcp("0.0.0.0", 80)], "/health", (1796439595.25, 15))


@pytest.mark.parametrize(
    ("argv", "word"),
    [([], "healthy"), (["--live"], "alive"), (["--ready"], "ready"), (["--timeout", "1", "--ready"], "ready")],
)
def test_each_probe_asks_a_server_that_does_not_drain(
    record: str, capsys: pytest.CaptureFixture[str], argv: list[str], word: str
) -> None:
    with serving(socket.AF_INET, ("127.0.0.1", 0)) as server:
        port = _port(server)
        write_record([tcp("0.0.0.0", port)], None, record)
        assert main(["healthcheck", *argv], {}, record) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{word}: 127.0.0.1:{port}: GET / answered 200 in ") and out.count("\n") == 1
    # The image's access log knows its own probes by their user agent.
    assert f"\r\nUser-Agent: {healthcheck.USER_AGENT}\r\n".encode() in server.requests[0]


def test_while_draining_only_readiness_fails_and_without_asking(
    record: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with serving(socket.AF_INET, ("127.0.0.1", 0)) as server:
        port = _port(server)
        write_record([tcp("0.0.0.0", port)], None, record, (time.time() + 30, 30))
        outcomes = [main(["healthcheck", *argv], {}, record) for argv in (["--ready"], ["--live"], [])]
    ready, live, health = capsys.readouterr().out.splitlines()
    assert outcomes == [1, 0, 0]
    assert len(server.requests) == 2  # the liveness probe's and the health check's
    drain = re.compile(r"draining: (\d+) s left of DRAIN_SECONDS=30, then the graceful stop")
    ready_drain = drain.fullmatch(ready.removeprefix("not ready: "))
    assert ready_drain is not None and 0 < int(ready_drain[1]) <= 30, ready
    for line, word in ((live, "alive"), (health, "healthy")):
        passed, _, state = line.partition("; ")
        assert passed.startswith(f"{word}: 127.0.0.1:{port}: GET / answered 200 in "), line
        assert drain.fullmatch(state), line


def test_the_time_left_is_never_more_than_the_drain() -> None:
    """The record rounds the drain's end to milliseconds: a check right after could see more."""
    assert healthcheck.drain_state((time.time() + 30.4, 30)).startswith("draining: 30 s left of DRAIN_SECONDS=30")


def test_after_the_drain_readiness_says_the_server_is_stopping(record: str, capsys: pytest.CaptureFixture[str]) -> None:
    """The graceful stop: the record still says draining, its end has passed."""
    write_record([tcp("127.0.0.1", 9)], None, record, (time.time() - 1, 5))
    assert main(["healthcheck", "--ready"], {}, record) == 1
    assert capsys.readouterr().out == "not ready: stopping: the drain of DRAIN_SECONDS=5 is over\n"


def test_main_reports_a_record_it_cannot_read(record: str, capsys: pytest.CaptureFixture[str]) -> None:
    Path(record).write_text("tcp 127.0.0.1 eighty\n")
    assert main(["healthcheck"], {}, record) == 1
    assert capsys.readouterr().out.startswith("unhealthy: ValueError: ")
    Path(record).write_text("udp 127.0.0.1 80\n")
    assert main(["healthcheck"], {}, record) == 1
    assert capsys.readouterr().out == f"unhealthy: {record} has a line this check does not know: 'udp 127.0.0.1 80'\n"


def test_the_default_record_is_in_memory(monkeypatch: pytest.MonkeyPatch, record: str) -> None:
    """The record's place is read when used, so that tests (and only they) can move it."""
    assert healthcheck.RECORD == "/dev/shm/uvicorn-gunicorn-health"
    monkeypatch.setattr(healthcheck, "RECORD", record)
    write_record([tcp("0.0.0.0", 80)], None)
    assert read_record(record) == ([tcp("0.0.0.0", 80)], None, None)


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"BIND": "[::]:8080", "HEALTHCHECK_PATH": "/ready"}, ([tcp("::", 8080)], "/ready", None)),
        ({"HOST": "web.internal", "PORT": "81"}, ([tcp("web.internal", 81)], None, None)),
        ({"BIND": "unix:/tmp/app.sock"}, ([unix("/tmp/app.sock")], None, None)),
    ],
)
def test_the_launcher_records_what_it_hands_to_uvicorn(
    monkeypatch: pytest.MonkeyPatch, record: str, env: dict[str, str], expected: Record
) -> None:
    monkeypatch.setattr(healthcheck, "RECORD", record)
    settings = load_settings(
        {**env, "PROCESS_MANAGER": "uvicorn"}, CpuLimit(2, None), None, lambda path: path == "/app/main.py"
    )
    launch._record_for_healthcheck(settings)
    assert read_record(record) == expected


# HEALTHCHECK_PATH at server start


def _load(env: dict[str, str]) -> str | None:
    return load_settings(env, CpuLimit(2, None), None, lambda path: path == "/app/main.py").healthcheck_path


@pytest.mark.parametrize(("value", "expected"), [("", None), ("/", "/"), ("/health?deep=1", "/health?deep=1")])
def test_healthcheck_path_setting(value: str, expected: str | None) -> None:
    assert _load({"HEALTHCHECK_PATH": value}) == expected


@pytest.mark.parametrize("value", ["health", "http://localhost/health", "/a b", "/caf\u00e9", "/x\r\nHost: evil"])
def test_healthcheck_path_must_be_a_plain_path(value: str) -> None:
    expected = "a path starting with /, such as /health, in ASCII without spaces"
    with pytest.raises(SettingError) as raised:
        _load({"HEALTHCHECK_PATH": value})
    assert str(raised.value) == f"HEALTHCHECK_PATH={value!r} is not valid: expected {expected}"
