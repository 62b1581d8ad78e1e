"""WebSocket support loaded by each worker at its first WebSocket connection, not at its start.

With `ws="auto"` (Uvicorn's default) Uvicorn imports its WebSocket protocol, and with it the
websockets package, as it loads its configuration: about 20 ms of CPU on python3.11-slim,
before the first answer of every worker that starts, for applications that never see a
WebSocket as for those that do. Here "auto" names LazyWebSocketsProtocol, which Uvicorn holds
as its protocol class: at the first upgrade request it imports Uvicorn's own choice (websockets,
else wsproto) and the connection is that protocol's, as if it had been loaded at start.
"""

from __future__ import annotations

import importlib.util
from typing import Any

from uvicorn.config import WS_PROTOCOLS
from uvicorn.importer import import_from_string

LAZY = "uvicorn_gunicorn_runtime.lazy_websockets:LazyWebSocketsProtocol"
UVICORNS_AUTO = "uvicorn.protocols.websockets.auto:AutoWebSocketsProtocol"
_loaded: list[Any] = []  # Uvicorn's protocol class, once imported in this process


class LazyWebSocketsProtocol:
    """Stands for Uvicorn's automatic WebSocket protocol until a connection needs it."""

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        if not _loaded:
            _loaded.append(import_from_string(UVICORNS_AUTO))
        return _loaded[0](*args, **kwargs)


def load_websockets_lazily() -> None:
    """Makes Uvicorn's "auto" WebSocket protocol the lazy one in this process and the workers it
    forks; where neither websockets nor wsproto is installed, Uvicorn's own "auto" (no
    WebSocket support) stays. Idempotent."""
    if WS_PROTOCOLS.get("auto") == UVICORNS_AUTO and any(
        importlib.util.find_spec(package) for package in ("websockets", "wsproto")
    ):
        WS_PROTOCOLS["auto"] = LAZY
