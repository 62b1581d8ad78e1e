"""Docker platforms and the machine names `uname -m` reports for them."""

from __future__ import annotations

UNAME_MACHINE = {"linux/amd64": "x86_64", "linux/arm64": "aarch64"}
PLATFORM_OF_MACHINE = {machine: platform for platform, machine in UNAME_MACHINE.items()}
