"""What an access line says: the image's own line, a Gunicorn access_log_format rendered with
Gunicorn's atoms, and the fields of a JSON line (README, "Access lines").

Every maker takes one Exchange, a request and its response as the access layer saw them (see
access_lines). In a text line, text from the client (path, query, headers) is shown
as sent where it is printable ASCII; a byte outside that, a double quote and a backslash are
escaped (`\\xNN`, `\\"`, `\\\\`), so that a line stays one line and a quoted field ends where
it seems to.
No server package is imported: the launcher checks ACCESS_LOG_FORMAT here.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from uvicorn_gunicorn_runtime.environment import Environment, invalid

ResponseHeaders = Iterable[tuple[bytes, bytes]]


class Exchange:
    """One HTTP request and its response: the ASGI scope, the request's headers by lower-case
    name, the status, the bytes of the body, the seconds it took, the response's headers."""

    __slots__ = ("headers", "response_headers", "scope", "seconds", "size", "status")

    def __init__(
        self,
        scope: Mapping[str, Any],
        headers: Mapping[bytes, bytes],
        status: int = 0,
        size: int = 0,
        seconds: float = 0.0,
        response_headers: ResponseHeaders = (),
    ) -> None:
        self.scope = scope
        self.headers = headers
        self.status = status
        self.size = size
        self.seconds = seconds
        self.response_headers = response_headers


# An exchange -> the message of its line.
LineMaker = Callable[[Exchange], str]

_ESCAPES = [chr(byte) if 0x20 <= byte < 0x7F else f"\\x{byte:02x}" for byte in range(256)]
_ESCAPES[ord('"')] = '\\"'
_ESCAPES[ord("\\")] = "\\\\"


def shown(value: bytes) -> str:
    """Bytes from the client as a line shows them: as they are when plain, else escaped."""
    text = value.decode("latin-1")
    if text.isascii() and text.isprintable() and '"' not in text and "\\" not in text:
        return text
    return "".join(map(_ESCAPES.__getitem__, value))


def _client(scope: Mapping[str, Any]) -> str | None:
    client = scope.get("client")
    return f"{client[0]}:{client[1]}" if client else None


def _raw_path(scope: Mapping[str, Any]) -> bytes:
    """The path as the client sent it (percent-encoded), without the query."""
    raw: bytes | None = scope.get("raw_path")
    return raw if raw is not None else scope["path"].encode()


def _target(scope: Mapping[str, Any]) -> str:
    query: bytes = scope["query_string"]
    return shown(_raw_path(scope) + b"?" + query if query else _raw_path(scope))


# What default_line made of a client address and of a User-Agent, which repeat from request to
# request (a keep-alive connection, a proxy, a browser): each made once. Bounded: emptied
# when full.
_CLIENTS: dict[object, str] = {}
_AGENTS: dict[bytes | None, str] = {}
CACHED = 1024


def default_line(exchange: Exchange) -> str:
    """`CLIENT - "METHOD TARGET HTTP/VERSION" STATUS BYTES DURATIONms "USER AGENT"`, then
    ` request_id="ID"` when the request has an X-Request-ID: Uvicorn's line, and more.
    Written out rather than with the helpers above: it is made for every request."""
    scope, headers = exchange.scope, exchange.headers
    client = scope.get("client")
    client_text = _CLIENTS.get(client)
    if client_text is None:
        if len(_CLIENTS) >= CACHED:
            _CLIENTS.clear()
        client_text = _CLIENTS[client] = f"{client[0]}:{client[1]}" if client else "-"
    target = scope.get("raw_path") or scope["path"].encode()
    if query := scope["query_string"]:
        target += b"?" + query
    text = target.decode("latin-1")
    if not (text.isascii() and text.isprintable()) or '"' in text or "\\" in text:
        text = shown(target)
    agent = headers.get(b"user-agent")
    agent_text = _AGENTS.get(agent)
    if agent_text is None:
        if len(_AGENTS) >= CACHED:
            _AGENTS.clear()
        agent_text = _AGENTS[agent] = "-" if agent is None else shown(agent)
    line = (
        f'{client_text} - "{scope["method"]} {text} HTTP/{scope["http_version"]}"'
        f' {exchange.status} {exchange.size} {exchange.seconds * 1000:.3f}ms "{agent_text}"'
    )
    request_id = headers.get(b"x-request-id")
    return line if request_id is None else f'{line} request_id="{shown(request_id)}"'


def json_fields(exchange: Exchange) -> dict[str, object]:
    """The fields of a JSON access line, beside time, level, logger and message; null when
    absent. Text from the client is as sent, each byte one character (JSON escapes the rest)."""
    scope, headers = exchange.scope, exchange.headers
    agent, request_id = headers.get(b"user-agent"), headers.get(b"x-request-id")
    return {
        "client": _client(scope),
        "method": scope["method"],
        "path": _raw_path(scope).decode("latin-1"),
        "query": scope["query_string"].decode("latin-1"),
        "http_version": scope["http_version"],
        "status": exchange.status,
        "bytes": exchange.size,
        "duration_ms": round(exchange.seconds * 1000, 3),
        "user_agent": None if agent is None else agent.decode("latin-1"),
        "request_id": None if request_id is None else request_id.decode("latin-1"),
    }


class Atoms:
    """Gunicorn's atoms of one exchange, each made when the format asks for it: the mapping
    that `access_log_format % atoms` reads. An atom Gunicorn does not know is `-`, as there."""

    __slots__ = ("exchange", "scope")

    def __init__(self, exchange: Exchange) -> None:
        self.exchange = exchange
        self.scope = exchange.scope

    def __getitem__(self, name: str) -> object:
        atom = _SIMPLE_ATOMS.get(name)
        if atom is not None:
            return atom(self)
        if _HEADER_ATOM.fullmatch(name):
            key, kind = name[1:-2].lower(), name[-1]
            if kind == "i":
                return self.header(key.encode("latin-1"))
            if kind == "o":
                return self.response_header(key.encode("latin-1"))
            if key.startswith("http_"):
                return self.header(key[5:].replace("_", "-").encode("latin-1"))
            variable = _VARIABLES.get(key)
            return "-" if variable is None else variable(self)
        return "-"

    def microseconds(self) -> int:
        """The duration in whole microseconds, which T, M and L are made of, as Gunicorn makes them."""
        return int(self.exchange.seconds * 1_000_000)

    def header(self, name: bytes) -> str:
        value = self.exchange.headers.get(name)
        return "-" if value is None else shown(value)

    def response_header(self, name: bytes) -> str:
        for key, value in self.exchange.response_headers:
            if key.lower() == name:
                return shown(value)
        return "-"

    def user(self) -> str:
        """The user name of HTTP Basic authentication, else `-`."""
        scheme, _, credentials = self.exchange.headers.get(b"authorization", b"").partition(b" ")
        if scheme.lower() != b"basic":
            return "-"
        try:
            decoded = base64.b64decode(credentials.strip(), validate=True)
        except binascii.Error:
            return "-"
        user = decoded.partition(b":")[0]
        return shown(user) if user else "-"


# Gunicorn's access log atoms (its documentation of access_log_format), for an ASGI exchange.
# h is the client's address as Uvicorn sees it: from X-Forwarded-For when FORWARDED_ALLOW_IPS
# trusts the proxy. s, B, T, D and M are numbers; the rest text.
_SIMPLE_ATOMS: dict[str, Callable[[Atoms], object]] = {
    "h": lambda atoms: (atoms.scope.get("client") or ("-",))[0],
    "l": lambda atoms: "-",
    "u": lambda atoms: atoms.user(),
    "t": lambda atoms: time.strftime("[%d/%b/%Y:%H:%M:%S %z]"),
    "r": lambda atoms: f"{atoms.scope['method']} {_target(atoms.scope)} HTTP/{atoms.scope['http_version']}",
    "m": lambda atoms: atoms.scope["method"],
    "U": lambda atoms: shown(atoms.scope["path"].encode()),
    "q": lambda atoms: shown(atoms.scope["query_string"]),
    "H": lambda atoms: f"HTTP/{atoms.scope['http_version']}",
    "s": lambda atoms: atoms.exchange.status,
    "B": lambda atoms: atoms.exchange.size,
    "b": lambda atoms: str(atoms.exchange.size) if atoms.exchange.size else "-",
    "f": lambda atoms: atoms.header(b"referer"),
    "a": lambda atoms: atoms.header(b"user-agent"),
    "T": lambda atoms: atoms.microseconds() // 1_000_000,
    "D": lambda atoms: atoms.microseconds(),
    "M": lambda atoms: atoms.microseconds() // 1_000,
    "L": lambda atoms: f"{atoms.microseconds() // 1_000_000}.{atoms.microseconds() % 1_000_000:06d}",
    "p": lambda atoms: f"<{os.getpid()}>",
}
# {name}e: the request's CGI variables, which Gunicorn's WSGI environment holds (HTTP_* too).
_VARIABLES: dict[str, Callable[[Atoms], object]] = {
    "request_method": _SIMPLE_ATOMS["m"],
    "path_info": _SIMPLE_ATOMS["U"],
    "query_string": _SIMPLE_ATOMS["q"],
    "raw_uri": lambda atoms: _target(atoms.scope),
    "script_name": lambda atoms: shown(atoms.scope.get("root_path", "").encode()),
    "server_protocol": _SIMPLE_ATOMS["H"],
    "remote_addr": _SIMPLE_ATOMS["h"],
    "remote_port": lambda atoms: str((atoms.scope.get("client") or (None, "-"))[1]),
    "server_name": lambda atoms: str((atoms.scope.get("server") or ("-",))[0]),
    "server_port": lambda atoms: str((atoms.scope.get("server") or (None, "-"))[1]),
    "wsgi.url_scheme": lambda atoms: atoms.scope.get("scheme", "http"),
    "content_type": lambda atoms: atoms.header(b"content-type"),
    "content_length": lambda atoms: atoms.header(b"content-length"),
}
ATOM_NAMES = (*_SIMPLE_ATOMS, "{header}i", "{header}o", "{variable}e")
# One placeholder of Python's %-formatting with a mapping, or %% (a literal %).
_PLACEHOLDER = re.compile(r"%(?:%|\((?P<name>[^()]*)\)[#0 +-]*[0-9]*(?:\.[0-9]+)?[hlL]?[diouxXeEfFgGcrsa])")
_HEADER_ATOM = re.compile(r"\{[^{}]+\}[ioe]")


def gunicorn_line(access_log_format: str) -> LineMaker:
    """The maker of lines in `access_log_format` (checked before: see check_format)."""

    def line(exchange: Exchange) -> str:
        return access_log_format % Atoms(exchange)

    return line


_SAMPLE = Atoms(
    Exchange(
        {
            "type": "http",
            "method": "GET",
            "path": "/items",
            "raw_path": b"/items",
            "query_string": b"id=1",
            "http_version": "1.1",
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 80),
        },
        {b"user-agent": b"curl/8.5.0"},
        200,
        27,
        0.0012,
        [(b"content-type", b"text/plain")],
    )
)


def check_format(name: str, value: str, known_atoms_only: bool) -> None:
    """Raises SettingError unless `value` renders as an access_log_format: placeholders
    `%(atom)s` (or another conversion the atom's value takes) and `%%`. With known_atoms_only
    (ACCESS_LOG_FORMAT), an atom Gunicorn does not document is refused rather than shown as `-`."""
    if "%" in _PLACEHOLDER.sub("", value):
        expected = "%(atom)s placeholders and %% for a % sign, such as '%(h)s \"%(r)s\" %(s)s %(b)s %(D)s'"
        raise invalid(name, value, expected)
    unknown = [
        atom
        for atom in (found["name"] for found in _PLACEHOLDER.finditer(value))
        if atom is not None and atom not in _SIMPLE_ATOMS and not _HEADER_ATOM.fullmatch(atom)
    ]
    if known_atoms_only and unknown:
        raise invalid(name, value, f"Gunicorn's atoms ({', '.join(ATOM_NAMES)}); {unknown[0]!r} is not one")
    try:
        value % _SAMPLE
    except (TypeError, ValueError, OverflowError) as error:
        raise invalid(name, value, f"a format each atom's value fits ({type(error).__name__}: {error})") from None


def access_log_format(env: Environment) -> str | None:
    """ACCESS_LOG_FORMAT: Gunicorn's access_log_format, checked; None: the image's own line."""
    value = env.text("ACCESS_LOG_FORMAT")
    if value is not None:
        check_format("ACCESS_LOG_FORMAT", value, known_atoms_only=True)
    return value
