"""Per-rank stats files in a run directory: how multi-process ranks report system stats to rank 0.

Ranks other than 0 write their latest ``stats`` sample to ``RUN_DIR/.stats/rank<k>.json`` (atomic rename, once per
sampling interval); rank 0's sampler emits its own sample and one ``stats`` event per fresh rank file, with
``process`` set to that rank. No sockets, no extra collectives. Jax-free: run-directory code.
"""

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from xaxengine.files import atomic_write

STATS_DIR = ".stats"


class RankStatsReader:
    """Yields the rank files written since the last read (rank 0's side)."""

    def __init__(self, run_dir: Path) -> None:
        """Reads ``run_dir/.stats``."""
        self.folder = run_dir / STATS_DIR
        self._seen: dict[int, float] = {}

    def fresh(self) -> Iterator[tuple[int, dict[str, Any]]]:
        """Yields ``(rank, stats)`` for every rank file written since the last call."""
        if not self.folder.is_dir():
            return
        for path in sorted(self.folder.glob("rank*.json")):
            try:
                rank, mtime = int(path.stem.removeprefix("rank")), path.stat().st_mtime
                if self._seen.get(rank) == mtime:
                    continue
                stats = json.loads(path.read_text())
            except (OSError, ValueError):
                continue
            self._seen[rank] = mtime
            yield rank, stats


def write_rank_stats(run_dir: Path, rank: int, stats: dict[str, Any]) -> None:
    """Writes this rank's latest stats sample for rank 0 to pick up (atomic replace)."""
    folder = run_dir / STATS_DIR
    folder.mkdir(exist_ok=True)
    atomic_write(folder / f"rank{rank}.json", json.dumps(stats))
