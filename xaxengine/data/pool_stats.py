"""What the Grain worker pool does: batches built per second, time busy, and batches ready ahead of the loop.

Each worker adds to its own row of a small file-backed table (``np.memmap``, ``MAP_SHARED``) after building a batch:
``[batches, examples, build_ns, pid]`` (the pid is written once, when the worker starts). Worker ``w`` of ``n``
builds batches ``first + w, first + w + n, ...`` (Grain's slicing), so the row follows from the batch number and no
worker writes another's row; no lock, no shared-memory segment to leak. The trainer's stats thread reads the table
once a second (:meth:`PoolStats.sample`): the batches built since the last sample give the pool's rate and how busy
its workers were, and built minus taken by the loop is the queue depth (batches ready before the loop asks).
"""

import os
import tempfile
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from xaxengine.data.transforms import HostBatch

_FIELDS = 4  # batches, examples, build_ns, pid
_PID = 3


class PoolCounters:
    """The shared table: one row per worker (picklable: only the path travels, each process maps it itself)."""

    def __init__(self, rows: int) -> None:
        """Creates a zeroed table of ``rows`` rows in a fresh temporary file (removed by :meth:`remove`)."""
        fd, self.path = tempfile.mkstemp(prefix="xax-pool-", suffix=".bin")
        os.close(fd)
        self.rows = rows
        np.zeros((rows, _FIELDS), np.int64).tofile(self.path)
        self._table: np.memmap | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {"path": self.path, "rows": self.rows}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.path, self.rows, self._table = state["path"], state["rows"], None

    def table(self) -> np.ndarray:
        """The mapped table (opened on first use in each process)."""
        if self._table is None:
            self._table = np.memmap(self.path, dtype=np.int64, mode="r+", shape=(self.rows, _FIELDS))
        return self._table

    def record(self, row: int, examples: int, build_ns: int) -> None:
        """Adds one built batch to ``row`` (called only by the worker that owns it)."""
        table = self.table()
        table[row, 0] += 1
        table[row, 1] += examples
        table[row, 2] += build_ns

    def set_pid(self, row: int, pid: int) -> None:
        """Notes the process id of worker ``row`` (its first act)."""
        self.table()[row, _PID] = pid

    def pids(self) -> list[int]:
        """The worker processes' ids, by worker index (those that started)."""
        return [int(pid) for pid in np.asarray(self.table())[:, _PID] if pid > 0]

    def totals(self) -> np.ndarray:
        """``[batches, examples, build_ns]`` summed over the workers."""
        return np.asarray(self.table())[:, :_PID].sum(axis=0)

    def remove(self) -> None:
        """Deletes the file (the workers are gone by then)."""
        self._table = None
        if os.path.exists(self.path):
            os.unlink(self.path)


class CountedMaker:
    """Wraps a batch function: times each batch and records it in its worker's row."""

    def __init__(self, make: Callable[[int], HostBatch], counters: PoolCounters, first: int, batch_size: int) -> None:
        """``first``: the first batch number of the pipeline (worker of batch ``k``: ``(k - first) % rows``)."""
        self.make, self.counters, self.first, self.batch_size = make, counters, first, batch_size

    def __call__(self, batch_number: int) -> HostBatch:
        """Builds the batch and counts it."""
        t0 = time.perf_counter_ns()
        batch = self.make(batch_number)
        row = (int(batch_number) - self.first) % self.counters.rows
        self.counters.record(row, self.batch_size, time.perf_counter_ns() - t0)
        return batch


class PoolStats:
    """Turns successive readings of the table into the ``data`` field of ``stats`` events."""

    def __init__(self, counters: PoolCounters, workers: int, prefetch: int, taken: Callable[[], int]) -> None:
        """Reads ``counters``.

        Args:
            counters: The shared table.
            workers: The worker count (0: batches built in the loop's process).
            prefetch: ``data.prefetch``.
            taken: How many batches the loop has taken from the pipeline so far.
        """
        self.counters, self.workers, self.prefetch, self.taken = counters, workers, prefetch, taken
        self._last: tuple[float, np.ndarray] | None = None

    def sample(self) -> dict[str, Any]:
        """``{"workers", "prefetch", "queue", "batches_per_s", "examples_per_s", "build_ms", "busy_frac"}``.

        ``queue`` is the batches built and not yet taken by the loop; the rates and ``build_ms`` (mean time one
        worker takes for one batch) cover the time since the previous sample (none on the first: null);
        ``busy_frac`` is the share of that time the workers spent building (1.0: every worker always busy).
        """
        now, totals = time.monotonic(), self.counters.totals()
        out: dict[str, Any] = {
            "workers": self.workers,
            "prefetch": self.prefetch,
            "queue": max(0, int(totals[0]) - self.taken()),
            "batches_per_s": None,
            "examples_per_s": None,
            "build_ms": None,
            "busy_frac": None,
        }
        if self._last is not None:
            seconds, (batches, examples, build_ns) = now - self._last[0], totals - self._last[1]
            if seconds > 0:
                out["batches_per_s"], out["examples_per_s"] = batches / seconds, examples / seconds
                out["busy_frac"] = min(1.0, build_ns / 1e9 / seconds / max(self.workers, 1))
            if batches:
                out["build_ms"] = build_ns / 1e6 / batches
        self._last = (now, totals)
        return out
