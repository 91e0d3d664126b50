"""Keeping a memory-mapped ``datasets.Dataset``'s file pages from piling up in a reader's RSS.

Reading random rows of a memory-mapped Arrow file maps far more than the rows: each page fault reads ahead
(128 KiB by default) and maps the cached pages around it, so a few hundred batches of 3 KB rows leave the whole
4 GB file mapped into the process (RSS 4.5 GB, nearly all clean file pages the kernel could drop, but counted in
RSS by every tool and every OOM heuristic). :class:`MappedPages` tells the kernel the reads are random
(``MADV_RANDOM``: no read-ahead) and, once the file pages mapped into the process grow by ``max_bytes``, unmaps
them with ``MADV_DONTNEED``: they stay in the page cache, and a later read maps them again with a minor fault.

Only the ranges that ``/proc/self/maps`` lists as mappings of the dataset's own Arrow files are ever advised, so
an in-memory table (whose pages ``MADV_DONTNEED`` would zero) is never touched. Linux only; elsewhere it does
nothing. Each process (the loader's, every Grain worker) finds its own mappings on its first read.
"""

import ctypes
import mmap
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

PAGE_BYTES = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
LARGEST_FOLIO_BYTES = 2**21


def arrow_files(dataset: Any) -> list[str]:
    """The Arrow files a ``datasets.Dataset``'s table maps (its ``MemoryMappedTable`` blocks), absolute paths."""
    from datasets.table import ConcatenationTable, MemoryMappedTable

    table = getattr(dataset, "_data", None)
    if isinstance(table, MemoryMappedTable):
        return [table.path]
    if isinstance(table, ConcatenationTable):
        return sorted({b.path for row in table.blocks for b in row if isinstance(b, MemoryMappedTable)})
    return []


def file_mappings(paths: list[str], maps: str | None = None) -> list[tuple[int, int]]:
    """The address ranges ``[start, end)`` of this process's mappings of ``paths`` (from ``/proc/self/maps``)."""
    if maps is None:
        maps = Path("/proc/self/maps").read_text()
    wanted = {os.path.realpath(p) for p in paths}
    spans = []
    for line in maps.splitlines():
        fields = line.split(maxsplit=5)
        if len(fields) == 6 and fields[5] in wanted:
            start, end = (int(x, 16) for x in fields[0].split("-"))
            spans.append((start, end))
    return spans


def resident_file_bytes() -> int:
    """This process's resident file-backed and shared pages, in bytes (``/proc/self/statm``'s third field)."""
    return int(Path("/proc/self/statm").read_text().split()[2]) * PAGE_BYTES


class MappedPages:
    """Bounds how much of a memory-mapped dataset's files one reader keeps mapped (see the module docstring).

    Picklable: a Grain worker gets the file paths and finds its own mappings.
    """

    def __init__(self, paths: list[str], max_bytes: int) -> None:
        """Watches the mappings of ``paths``; ``max_bytes`` 0 turns the release off (``MADV_RANDOM`` stays)."""
        self.paths, self.max_bytes = paths, max_bytes
        self._spans: list[tuple[int, int]] | None = None
        self._baseline = 0
        self.releases = 0

    @classmethod
    def of(cls, dataset: Any, max_bytes: int) -> "MappedPages | None":
        """The watcher for ``dataset``'s Arrow files, or None when it maps none or the platform has no madvise."""
        if not sys.platform.startswith("linux") or not hasattr(mmap, "MADV_DONTNEED"):
            return None
        paths = arrow_files(dataset)
        return cls(paths, max_bytes) if paths else None

    def __getstate__(self) -> dict[str, Any]:
        return {"paths": self.paths, "max_bytes": self.max_bytes}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["paths"], state["max_bytes"])

    def reads(self, indices: np.ndarray) -> Iterator[np.ndarray]:
        """Splits one batch's row indices into reads, checking the bound before each.

        The kernel maps a whole page-cache folio (up to 2 MiB on ext4 or XFS) per fault, so one read of ``n`` random
        rows can map ``2n`` MiB; reads of ``max_bytes / 4 MiB`` rows keep the growth between checks within half the
        bound.
        """
        rows = max(1, self.max_bytes // LARGEST_FOLIO_BYTES // 2) if self.max_bytes else len(indices)
        for start in range(0, max(len(indices), 1), rows):
            self.before_read()
            yield indices[start : start + rows]

    def before_read(self) -> None:
        """Called before rows are read: keeps this process's mapped pages of the files within the bound.

        The first call advises random access and unmaps what opening the files mapped; later ones unmap the pages
        once they grew past the bound.
        """
        if self._spans is None:
            self._spans = file_mappings(self.paths)
            self._advise(mmap.MADV_RANDOM)
            self._advise(mmap.MADV_DONTNEED)
            self._baseline = resident_file_bytes()
            return
        if self.max_bytes and resident_file_bytes() - self._baseline > self.max_bytes:
            self._spans = file_mappings(self.paths)  # read again: never advise an address the file no longer maps
            self._advise(mmap.MADV_DONTNEED)
            self.releases += 1

    def _advise(self, advice: int) -> None:
        for start, end in self._spans or []:
            _LIBC.madvise(ctypes.c_void_p(start), ctypes.c_size_t(end - start), ctypes.c_int(advice))


_LIBC = ctypes.CDLL(None, use_errno=True)
