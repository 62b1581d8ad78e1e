"""Where the server listens: BIND, else HOST:PORT, checked by the grammar Gunicorn takes.

The health check reads it too, when the server left no record (see healthcheck), so this
module imports no more than the environment reader.
"""

from __future__ import annotations

import re

from uvicorn_gunicorn_runtime.environment import WHOLE_NUMBER, Environment, invalid

HOST_LABEL = r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)"
BIND_FORMS = "host:port or [ipv6]:port with a port from 1 to 65535, unix:/path or fd://N"


def _is_ipv4(host: str) -> bool:
    # No leading zeros: the C resolver reads 010 as octal 8.
    parts = host.split(".")
    return len(parts) == 4 and all(
        re.fullmatch(WHOLE_NUMBER, part) and int(part) <= 255 and (part == "0" or part[0] != "0") for part in parts
    )


def _is_ipv6(host: str) -> bool:
    import ipaddress  # only for a host with a colon: the default start does without it

    try:
        ipaddress.IPv6Address(host)
    except ValueError:
        return False
    return True


def _is_host_name(host: str) -> bool:
    """RFC 1123 labels; an all-numeric last label is a malformed IPv4 address, not a name."""
    labels = host.removesuffix(".").split(".")
    return len(host) <= 253 and all(re.fullmatch(HOST_LABEL, label) for label in labels) and not labels[-1].isdigit()


def _bind_host(host: str) -> str | None:
    """The host as an address to bind takes it (an IPv6 address in brackets), or None when it is
    neither an IPv4 address, nor an IPv6 address (with or without brackets), nor a host name."""
    address = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if ":" in address or address != host:
        return f"[{address}]" if _is_ipv6(address) else None
    return host if _is_ipv4(host) or _is_host_name(host) else None


def _is_port(text: str) -> bool:
    return re.fullmatch(WHOLE_NUMBER, text) is not None and 1 <= int(text) <= 65535


def parse_bind(value: str) -> str:
    """A value of BIND, checked: host:port, [ipv6]:port, unix:/path or fd://N."""
    if value.startswith("unix:"):
        valid = value != "unix:"
    elif value.startswith("fd://"):
        valid = re.fullmatch(WHOLE_NUMBER, value.removeprefix("fd://")) is not None
    else:
        host, separator, port = value.rpartition(":")
        # Unbracketed, "::1:80" could be host ::1 or host ::1:80; Gunicorn needs the brackets.
        unbracketed_ipv6 = ":" in host and not host.startswith("[")
        valid = bool(separator) and _is_port(port) and not unbracketed_ipv6 and _bind_host(host) is not None
    if not valid:
        raise invalid("BIND", value, BIND_FORMS)
    return value


def bind_address(bind: str) -> tuple[str, int] | str | None:
    """A checked bind as an address: (host, port), an IPv6 host without its brackets; the path
    of a unix: socket; None for fd://N, whose address only the process holding it knows."""
    if bind.startswith("unix:"):
        return bind.removeprefix("unix:")
    if bind.startswith("fd://"):
        return None
    host, _, port = bind.rpartition(":")
    return host.removeprefix("[").removesuffix("]"), int(port)


def bind_from(env: Environment) -> str:
    """BIND, else HOST:PORT; HOST and PORT are checked even when BIND wins over them."""
    port = env.integer("PORT", 80, minimum=1, maximum=65535)
    host = env.text("HOST")
    bind_host = "0.0.0.0" if host is None else _bind_host(host)
    if bind_host is None:
        raise invalid("HOST", host or "", "an IP address or a host name, without a port (PORT sets the port)")
    explicit = env.text("BIND")
    return parse_bind(explicit) if explicit is not None else f"{bind_host}:{port}"
