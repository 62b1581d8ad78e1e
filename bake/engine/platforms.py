"""Docker platforms and the machine names `uname -m` reports for them."""

from __future__ import annotations

UNAME_MACHINE = {"linux/amd64": "x86_64", "linux/arm64": "aarch64"}
PLATFORM_OF_MACHINE = {machine: platform for platform, machine in UNAME_MACHINE.items()}


def engine_platform() -> str:
    """The platform the Docker engine runs natively (where emulation is not needed)."""
    from python_on_whales import docker

    return PLATFORM_OF_MACHINE[docker.system.info().architecture or ""]
