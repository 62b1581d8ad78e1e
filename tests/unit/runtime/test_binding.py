from __future__ import annotations

import pytest
from uvicorn_gunicorn_runtime.binding import bind_address, bind_from, parse_bind
from uvicorn_gunicorn_runtime.environment import Environment

from tests.unit.runtime.readings import setting_error


def _bind(env: dict[str, str]) -> str:
    return bind_from(Environment(env))


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"PORT": "70000"}, "PORT='70000' is not valid: expected a whole number from 1 to 65535"),
        ({"PORT": "http"}, "PORT='http' is not valid"),
        ({"PORT": "8080\n"}, "PORT='8080\\n' is not valid"),
        (
            {"BIND": "0.0.0.0"},
            "BIND='0.0.0.0' is not valid: expected host:port or [ipv6]:port with a port from 1 to 65535, "
            "unix:/path or fd://N",
        ),
        ({"BIND": ":80"}, "BIND=':80' is not valid"),
        ({"BIND": "0.0.0.0:99999"}, "BIND='0.0.0.0:99999' is not valid"),
        ({"BIND": "0.0.0.0:0"}, "BIND='0.0.0.0:0' is not valid"),
        ({"BIND": "::1:80"}, "BIND='::1:80' is not valid"),
        ({"BIND": "[::1]"}, "BIND='[::1]' is not valid"),
        ({"BIND": "[localhost]:80"}, "BIND='[localhost]:80' is not valid"),
        ({"BIND": "[::1]:80x"}, "BIND='[::1]:80x' is not valid"),
        ({"BIND": "0.0.0.0: 80"}, "BIND='0.0.0.0: 80' is not valid"),
        ({"BIND": "0.0.0.0:+80"}, "BIND='0.0.0.0:+80' is not valid"),
        ({"BIND": "my host:80"}, "BIND='my host:80' is not valid"),
        ({"BIND": "unix:"}, "BIND='unix:' is not valid"),
        ({"BIND": "fd://abc"}, "BIND='fd://abc' is not valid"),
        ({"BIND": "fd://"}, "BIND='fd://' is not valid"),
        (
            {"HOST": "localhost:8080"},
            "HOST='localhost:8080' is not valid: expected an IP address or a host name, without a port "
            "(PORT sets the port)",
        ),
        ({"HOST": "0.0.0.0:80"}, "HOST='0.0.0.0:80' is not valid"),
        ({"HOST": "999.1.1.1"}, "HOST='999.1.1.1' is not valid"),
        ({"HOST": "1.2.3"}, "HOST='1.2.3' is not valid"),
        ({"HOST": "010.0.0.1"}, "HOST='010.0.0.1' is not valid"),
        ({"HOST": "my host"}, "HOST='my host' is not valid"),
        ({"HOST": "-bad.example"}, "HOST='-bad.example' is not valid"),
        ({"HOST": "[localhost]"}, "HOST='[localhost]' is not valid"),
        ({"HOST": "[::1"}, "HOST='[::1' is not valid"),
        ({"HOST": "http://0.0.0.0"}, "HOST='http://0.0.0.0' is not valid"),
        ({"HOST": "bad host", "BIND": "0.0.0.0:80"}, "HOST='bad host' is not valid"),
    ],
)
def test_bad_binds_are_named_in_one_line(env: dict[str, str], message: str) -> None:
    assert setting_error(lambda: _bind(env)).startswith(message)


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "0.0.0.0:80"),
        ({"HOST": "127.0.0.1", "PORT": "8080"}, "127.0.0.1:8080"),
        ({"HOST": "::"}, "[::]:80"),
        ({"HOST": "[::1]", "PORT": "8080"}, "[::1]:8080"),
        ({"HOST": "fe80::1%eth0"}, "[fe80::1%eth0]:80"),
        ({"HOST": "localhost"}, "localhost:80"),
        ({"HOST": "api-1.internal."}, "api-1.internal.:80"),
        ({"HOST": "10.0.0.255", "PORT": "08080"}, "10.0.0.255:8080"),
        ({"BIND": "unix:/tmp/app.sock", "PORT": "1"}, "unix:/tmp/app.sock"),
        ({"BIND": "[::1]:9000", "HOST": "0.0.0.0"}, "[::1]:9000"),
        ({"BIND": "localhost:65535"}, "localhost:65535"),
        ({"BIND": "fd://3"}, "fd://3"),
    ],
)
def test_bind(env: dict[str, str], expected: str) -> None:
    assert _bind(env) == expected


@pytest.mark.parametrize("value", ["0.0.0.0:80", "[::1]:9000", "unix:/tmp/app.sock", "fd://3"])
def test_a_valid_bind_is_kept_as_written(value: str) -> None:
    assert parse_bind(value) == value


@pytest.mark.parametrize(
    ("bind", "address"),
    [
        ("0.0.0.0:80", ("0.0.0.0", 80)),
        ("localhost:9000", ("localhost", 9000)),
        ("[::1]:8080", ("::1", 8080)),
        ("[fe80::1%eth0]:80", ("fe80::1%eth0", 80)),
        ("unix:/tmp/app.sock", "/tmp/app.sock"),
        ("fd://3", None),
    ],
)
def test_bind_address(bind: str, address: tuple[str, int] | str | None) -> None:
    assert bind_address(bind) == address
