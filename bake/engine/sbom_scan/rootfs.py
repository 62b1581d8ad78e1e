"""Paths inside a scanned root filesystem, whose absolute symlinks point into that filesystem."""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

MAX_LINKS = 40  # more than any real chain; past it, a loop


def inside(root: Path, path: PurePosixPath | str) -> Path:
    """`path` (absolute, as the image sees it) as a path on this machine, not resolved."""
    return root / str(path).lstrip("/")


def resolve(root: Path, path: PurePosixPath | str) -> PurePosixPath | None:
    """The path `path` ends at inside the image, every symlink followed as the image would
    follow it; None when it leads nowhere (a dangling link, a loop)."""
    parts = list(PurePosixPath(path).parts[1:])
    resolved = PurePosixPath("/")
    links = 0
    while parts:
        part = parts.pop(0)
        if part in ("", "."):
            continue
        if part == "..":
            resolved = resolved.parent
            continue
        candidate = resolved / part
        local = inside(root, candidate)
        if local.is_symlink():
            links += 1
            if links > MAX_LINKS:
                return None
            target = PurePosixPath(os.readlink(local))
            parts = list(target.parts[1:] if target.is_absolute() else target.parts) + parts
            if target.is_absolute():
                resolved = PurePosixPath("/")
            continue
        if not local.exists():
            return None
        resolved = candidate
    return resolved
