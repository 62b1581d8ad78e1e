"""A worker's own size against MAX_WORKER_MEMORY_MB, read from the kernel's files as the worker reads them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from uvicorn_gunicorn_runtime.worker_memory import (
    MemoryCeiling,
    overcommit_warning,
    pss_kib,
    resident_kib,
)

# /proc/self/smaps_rollup of a Python process in the image (Linux 6.1), as the kernel writes it.
ROLLUP = """\
00400000-7ffe054fe000 ---p 00000000 00:00 0                              [rollup]
Rss:               29236 kB
Pss:               26754 kB
Pss_Dirty:         18004 kB
Pss_Anon:          18004 kB
Pss_File:           8750 kB
Shared_Clean:       4960 kB
Private_Dirty:     18004 kB
Swap:                  0 kB
SwapPss:               0 kB
"""
PAGE = os.sysconf("SC_PAGE_SIZE")
MIB = 1 << 20


def test_pss_is_read_from_its_own_line() -> None:
    # Not Pss_Dirty, Pss_Anon or SwapPss, which come after it and start alike.
    assert pss_kib(ROLLUP.encode()) == 26754


def test_a_rollup_without_pss_is_an_error() -> None:
    with pytest.raises(ValueError, match="no Pss line"):
        pss_kib(b"Rss: 100 kB\nPss_Anon: 5 kB\n")


def test_resident_size_is_statms_second_field_in_pages() -> None:
    assert resident_kib(b"68621 17924 4195 1151 0 44418 0\n", 4096) == 17924 * 4
    assert resident_kib(b"100 3 1 1 0 2 0\n", 65536) == 3 * 64


def _ceiling(
    directory: Path, mib: int, rss_mib: int, pss_mib: int | None, statm: bool = True
) -> tuple[MemoryCeiling, Path]:
    """A ceiling of `mib` reading fake kernel files: a resident size of `rss_mib`, and a PSS of
    `pss_mib` (None: no smaps_rollup at all)."""
    rollup = directory / "smaps_rollup"
    if pss_mib is not None:
        rollup.write_text(ROLLUP.replace("26754", str(pss_mib * 1024)))
    statm_file = directory / "statm"
    if statm:
        statm_file.write_text(f"99999 {rss_mib * MIB // PAGE} 100 100 0 500 0\n")
    return MemoryCeiling(mib, statm=str(statm_file), smaps_rollup=str(rollup)), rollup


def test_above_the_ceiling_the_pss_is_returned(tmp_path: Path) -> None:
    ceiling, _ = _ceiling(tmp_path, 100, rss_mib=180, pss_mib=150)
    assert ceiling.exceeded() == 150 * 1024


@pytest.mark.parametrize("pss_mib", [60, 100])
def test_at_or_below_the_ceiling_by_pss_is_not_exceeded(tmp_path: Path, pss_mib: int) -> None:
    """RSS above (pages shared with the master and the other workers), PSS not: it stays."""
    ceiling, _ = _ceiling(tmp_path, 100, rss_mib=180, pss_mib=pss_mib)
    assert ceiling.exceeded() is None


def test_with_rss_at_or_below_the_ceiling_smaps_rollup_is_not_read(tmp_path: Path) -> None:
    ceiling, rollup = _ceiling(tmp_path, 100, rss_mib=100, pss_mib=None)
    assert not rollup.exists()  # reading it would fail
    assert ceiling.exceeded() is None


def test_unreadable_kernel_files_are_errors(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    without_statm, _ = _ceiling(tmp_path / "a", 100, rss_mib=180, pss_mib=150, statm=False)
    without_rollup, _ = _ceiling(tmp_path / "b", 100, rss_mib=180, pss_mib=None)
    for ceiling in (without_statm, without_rollup):
        with pytest.raises(OSError):
            ceiling.exceeded()


def test_this_process_is_read_from_the_real_files() -> None:
    """The kernel's own files, this process's real size: far above 1 MiB, far below 1 TiB."""
    assert MemoryCeiling(1).exceeded() is not None
    assert MemoryCeiling(1 << 20).exceeded() is None


def test_the_warning_names_the_worker_its_size_and_the_ceiling() -> None:
    assert MemoryCeiling(128).warning(4321, 140 * 1024 + 512) == (
        "Worker 4321 uses 140.5 MiB (PSS), above MAX_WORKER_MEMORY_MB=128: accepting no more connections,"
        " to be replaced."
    )


@pytest.mark.parametrize(
    ("ceiling", "workers", "limit", "warns"),
    [
        (0, 8, 1024, False),  # no ceiling
        (256, 8, None, False),  # no memory limit
        (128, 8, 1024, False),  # fits exactly: MEMORY_PER_WORKER_MB's own count
        (256, 8, 1024, True),
        (300, 4, 1024, True),
    ],
)
def test_a_ceiling_that_workers_cannot_all_reach_within_the_limit_is_said(
    ceiling: int, workers: int, limit: int | None, warns: bool
) -> None:
    warning = overcommit_warning(ceiling, workers, limit)
    assert (warning is not None) == warns
    if warning:
        assert warning.startswith(
            f"warning: MAX_WORKER_MEMORY_MB={ceiling} x {workers} workers is above the container's memory"
            f" limit of {limit} MiB: "
        )
        assert "\n" not in warning
