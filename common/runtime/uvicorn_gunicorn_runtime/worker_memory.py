"""A worker's own memory, against its ceiling (MAX_WORKER_MEMORY_MB, in MiB).

The size is the worker's PSS (proportional set size): each page it maps counts in full if the
worker alone has it, and as a share if it shares it with the master and the other workers (the
code, the libraries, and with PRELOAD_APP the whole application, until written to). The PSS of
all the processes adds up to what they cost the container. RSS would count each shared page in
full in every worker: with PRELOAD_APP, a worker's RSS holds the whole preloaded application,
and the same ceiling would mean a different leak depending on the application's size. What a
leak grows, the worker's own heap, counts in full in both.

PSS comes from /proc/self/smaps_rollup (Linux 4.14 and later, checked at start), which the
kernel adds up by walking the worker's page tables: 0.1 ms for a fresh worker, 0.4 ms at
128 MiB, 1.3 ms at 528 MiB (measured on linux/amd64). RSS, from /proc/self/statm, is a counter
the kernel keeps: 4 us whatever the size. PSS is never above RSS, so the worker reads statm
and reads smaps_rollup only when its RSS is above the ceiling.
"""

from __future__ import annotations

import os
import re

SMAPS_ROLLUP = "/proc/self/smaps_rollup"
STATM = "/proc/self/statm"
KIB_PER_MIB = 1024
PSS_LINE = rb"^Pss:\s+([0-9]+) kB$"


def pss_kib(rollup: bytes) -> int:
    """The Pss line of smaps_rollup's text, in KiB."""
    found = re.search(PSS_LINE, rollup, re.MULTILINE)
    if found is None:
        raise ValueError(f"{SMAPS_ROLLUP} has no Pss line")
    return int(found.group(1))


def resident_kib(statm: bytes, page_size: int) -> int:
    """The resident size, statm's second field (in pages), in KiB."""
    return int(statm.split()[1]) * page_size // 1024


def _read(path: str) -> bytes:
    with open(path, "rb") as file:
        return file.read()


class MemoryCeiling:
    """The ceiling of this process's PSS, in MiB."""

    def __init__(self, mib: int, statm: str = STATM, smaps_rollup: str = SMAPS_ROLLUP) -> None:
        self.mib = mib
        self.statm = statm
        self.smaps_rollup = smaps_rollup
        self.page_size = os.sysconf("SC_PAGE_SIZE")

    def exceeded(self) -> int | None:
        """This process's PSS in KiB if it is above the ceiling, else None; OSError or
        ValueError if the kernel's files cannot be read."""
        ceiling_kib = self.mib * KIB_PER_MIB
        if resident_kib(_read(self.statm), self.page_size) <= ceiling_kib:
            return None  # PSS is at most RSS: smaps_rollup's page-table walk is not needed
        pss = pss_kib(_read(self.smaps_rollup))
        return pss if pss > ceiling_kib else None

    def warning(self, pid: int, pss: int) -> str:
        """The one line of a worker found above the ceiling with `pss` KiB."""
        return (
            f"Worker {pid} uses {pss / KIB_PER_MIB:.1f} MiB (PSS), above MAX_WORKER_MEMORY_MB={self.mib}:"
            " accepting no more connections, to be replaced."
        )


def overcommit_warning(ceiling_mib: int, workers: int, memory_limit_mib: int | None) -> str | None:
    """The start-up line when `workers` workers each up to the ceiling do not fit the container's
    memory limit: the kernel's OOM killer would then stop a worker before its ceiling does."""
    if not ceiling_mib or memory_limit_mib is None or ceiling_mib * workers <= memory_limit_mib:
        return None
    return (
        f"warning: MAX_WORKER_MEMORY_MB={ceiling_mib} x {workers} workers is above the container's"
        f" memory limit of {memory_limit_mib} MiB: the kernel may kill a worker before its ceiling"
        " replaces it (see MEMORY_PER_WORKER_MB)"
    )
