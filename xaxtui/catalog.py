"""The picker's view of the engine's run catalogue (:mod:`xaxengine.catalog`): one reader, one liveness rule."""

from pathlib import Path

from xaxengine.catalog import DEAD, PENDING, RunInfo, list_runs

__all__ = ["DEAD", "PENDING", "RunInfo", "scan_runs"]


def scan_runs(runs_dir: str | Path) -> list[RunInfo]:
    """Every run under ``runs_dir`` (a runs root or a task folder), newest first."""
    return list_runs(Path(runs_dir), newest_first=True)
