"""What the tools and the image tests ask of a testcontainers container, asked one way."""

from __future__ import annotations

from testcontainers.core.container import DockerContainer


def is_up(container: DockerContainer) -> bool:
    """Whether the container is starting or running (not exited), as the engine says now."""
    wrapped = container.get_wrapped_container()
    wrapped.reload()
    return wrapped.status in ("created", "running")
