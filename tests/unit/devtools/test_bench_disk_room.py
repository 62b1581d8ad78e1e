"""The bench's check of the engine's disk, before a run starts."""

from __future__ import annotations

import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest

from devtools.bench.disk_room import GB, OTHER_RUN_GB, WHOLE_FAMILY_RUN_GB, NotEnoughRoom, check_room, needed_gb
from devtools.bench.sections import SECTIONS


def _free(monkeypatch: pytest.MonkeyPatch, free: int) -> None:
    monkeypatch.setattr(shutil, "disk_usage", lambda _: SimpleNamespace(free=free))


def test_a_disk_with_less_room_than_the_run_takes_stops_it_with_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    _free(monkeypatch, 15_200_000_000)
    with pytest.raises(NotEnoughRoom) as failure:
        check_room(Path("/var/lib/docker"), 20)
    message = str(failure.value)
    assert "\n" not in message
    assert "(/var/lib/docker) has 15.2 GB free and this run takes about 20 GB" in message


def test_a_disk_with_room_enough_lets_the_run_start(monkeypatch: pytest.MonkeyPatch) -> None:
    _free(monkeypatch, 20 * GB)
    check_room(Path("/var/lib/docker"), 20)


def test_the_whole_family_build_of_a_full_run_takes_the_most_room() -> None:
    assert WHOLE_FAMILY_RUN_GB > OTHER_RUN_GB > 0
    assert needed_gb(list(SECTIONS), short=False) == WHOLE_FAMILY_RUN_GB
    assert needed_gb(list(SECTIONS), short=True) == OTHER_RUN_GB  # a short run builds no whole family
    assert needed_gb([name for name in SECTIONS if name != "build"], short=False) == OTHER_RUN_GB
