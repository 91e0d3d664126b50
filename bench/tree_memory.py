"""Whole-process-tree memory of a running command, sampled from /proc (the process and every descendant).

Each sample reads ``/proc/PID/status`` of every live process of the tree (``VmRSS`` and its parts ``RssAnon``,
``RssFile``, ``RssShmem``; ``VmHWM``, the process's own peak RSS) and, less often, ``/proc/PID/smaps_rollup``
(``Pss``: shared pages divided among the processes mapping them, so a file page mapped by the trainer and two
workers counts once in the sum). The peak of the summed RSS is the conservative whole-tree number (it counts a
shared page once per process); the summed PSS is the memory the tree actually holds.
"""

import time
from dataclasses import dataclass, field
from typing import Any

import psutil

_STATUS = ("VmRSS", "RssAnon", "RssFile", "RssShmem", "VmHWM")


def _kib(path: str, keys: tuple[str, ...]) -> dict[str, int]:
    """The named ``kB`` fields of a /proc file (empty if the process is gone)."""
    out: dict[str, int] = {}
    try:
        with open(path) as f:
            for line in f:
                name, _, rest = line.partition(":")
                if name in keys:
                    out[name] = int(rest.split()[0])
    except (OSError, ValueError, IndexError):
        return {}
    return out


@dataclass
class TreeMemory:
    """Peaks over the samples of one process tree (MiB)."""

    root: int
    peak_rss_mb: float = 0.0
    peak_pss_mb: float = 0.0
    peak_parts_mb: dict[str, float] = field(default_factory=dict)  # RssAnon/RssFile/RssShmem at the RSS peak
    peak_processes: int = 0
    hwm_mb: dict[int, float] = field(default_factory=dict)  # each process's own VmHWM, last seen
    samples: int = 0

    def _processes(self) -> list[int]:
        try:
            root = psutil.Process(self.root)
            return [self.root, *(c.pid for c in root.children(recursive=True))]
        except psutil.NoSuchProcess:
            return []

    def sample(self, pss: bool) -> None:
        """Adds one sample (``pss``: also read smaps_rollup, slower)."""
        pids = self._processes()
        totals = dict.fromkeys(_STATUS, 0)
        pss_kib = 0
        for pid in pids:
            status = _kib(f"/proc/{pid}/status", _STATUS)
            for key, value in status.items():
                totals[key] += value
            if "VmHWM" in status:
                self.hwm_mb[pid] = status["VmHWM"] / 1024
            if pss:
                pss_kib += _kib(f"/proc/{pid}/smaps_rollup", ("Pss",)).get("Pss", 0)
        self.samples += 1
        if totals["VmRSS"] / 1024 > self.peak_rss_mb:
            self.peak_rss_mb = totals["VmRSS"] / 1024
            self.peak_parts_mb = {k: totals[k] / 1024 for k in ("RssAnon", "RssFile", "RssShmem")}
        self.peak_pss_mb = max(self.peak_pss_mb, pss_kib / 1024)
        self.peak_processes = max(self.peak_processes, len(pids))

    def watch(self, proc: psutil.Popen | Any, interval_s: float = 0.05, pss_every: int = 10) -> int:
        """Samples until ``proc`` exits; returns its exit code."""
        while proc.poll() is None:
            self.sample(pss=self.samples % pss_every == 0)
            time.sleep(interval_s)
        return proc.returncode

    def summary(self) -> dict[str, Any]:
        """The peaks as JSON (``sum_of_vmhwm_mb``: every process's own peak, added: an upper bound)."""
        return {
            "peak_tree_rss_mb": self.peak_rss_mb,
            "peak_tree_rss_parts_mb": self.peak_parts_mb,
            "peak_tree_pss_mb": self.peak_pss_mb,
            "sum_of_vmhwm_mb": sum(self.hwm_mb.values()),
            "vmhwm_mb_by_process": list(self.hwm_mb.values()),
            "peak_processes": self.peak_processes,
            "samples": self.samples,
        }
