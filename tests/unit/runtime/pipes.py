"""Reading what the access log wrote into a pipe (the `pipe` fixture, in conftest)."""

from __future__ import annotations

import os
import select


def read_within(fd: int, seconds: float) -> bytes:
    """What the pipe holds once something arrives within `seconds`; nothing otherwise."""
    ready, _, _ = select.select([fd], [], [], seconds)
    return os.read(fd, 1 << 20) if ready else b""
