"""Room on the engine's disk, checked before a run starts: a full run's whole-family cold build
fills the disk with layers and pip caches under keys of its own, 50 minutes in, and a full
disk ends it there with nothing written."""

from __future__ import annotations

import shutil
from collections.abc import Collection
from pathlib import Path

from python_on_whales import docker

from bake.errors import BakeError

GB = 10**9
# A full run took 5.7 GB from the engine's disk at its fullest (free space sampled every 30 s,
# 2026-12-05, on an engine holding the run's images already), 5.1 GB of it in the whole-family
# builds; the margin is for the images a machine that has built nothing yet builds first.
WHOLE_FAMILY_RUN_GB = 8
OTHER_RUN_GB = 3


class NotEnoughRoom(BakeError):
    """The engine's disk has less free space than the run takes."""


def needed_gb(sections: Collection[str], short: bool) -> int:
    """What the chosen sections take: the build section's whole-family cold build (not in a
    short run) takes most."""
    return WHOLE_FAMILY_RUN_GB if "build" in sections and not short else OTHER_RUN_GB


def engine_root() -> Path:
    return Path(docker.system.info().docker_root_dir or "/var/lib/docker")


def check_room(root: Path, needed: int) -> None:
    free = shutil.disk_usage(root).free
    if free < needed * GB:
        raise NotEnoughRoom(
            f"the engine's disk ({root}) has {free / GB:.1f} GB free and this run takes about "
            f"{needed} GB: free some first (`docker builder prune`, `docker image prune`)"
        )
