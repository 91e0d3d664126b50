"""The picker's view of the engine's run catalogue (:mod:`xaxengine.catalog`): one reader, one liveness rule."""

import time
from pathlib import Path

from xaxengine.catalog import DEAD, PENDING, RunInfo, ask_slurm, list_runs, slurm_verdict
from xaxengine.slurm_jobs import JobSummary, recorded_job

__all__ = ["DEAD", "PENDING", "RunInfo", "SlurmWatch", "scan_runs"]


def scan_runs(runs_dir: str | Path) -> list[RunInfo]:
    """Every run under ``runs_dir`` (a runs root or a task folder), newest first."""
    return list_runs(Path(runs_dir), newest_first=True)


class SlurmWatch:
    """What Slurm says of a followed local run whose engine is not seen here (the catalogue's rule, one run).

    Slurm is asked (one ``scontrol`` call) at most every ``every_s``; a run not submitted to Slurm is never asked.
    """

    def __init__(self, run_dir: Path, every_s: float = 5.0) -> None:
        """Watches ``run_dir``'s Slurm job, if it records one."""
        self.run_dir = run_dir
        self.every_s = every_s
        self.job_id = recorded_job(run_dir)
        self._asked = float("-inf")
        self._verdict: tuple[str, bool, str | None] | None = None
        self._said: tuple[str, str | None] | None = None

    def news(self, last_status: object) -> tuple[bool, tuple[str, str | None] | None]:
        """Whether Slurm decides the run's state now, and the ``(state, reason)`` to show if that is new.

        Slurm decides for a queued job (``pending``), a running one (live: nothing to show) and one that ended
        without a final status (``failed``); elsewhere (no job, Slurm silent) the lock rule stands.
        """
        if self.job_id is None:
            return False, None
        if time.monotonic() - self._asked >= self.every_s:
            self._asked = time.monotonic()
            found = ask_slurm([self.job_id]).get(self.job_id)
            job = found.summary() if found is not None else JobSummary(self.job_id)
            self._verdict = slurm_verdict(job, str(last_status) if last_status else None, alive=False)
        if self._verdict is None:
            return False, None
        state, alive, reason = self._verdict
        if alive or (state, reason) == self._said:
            return True, None
        self._said = (state, reason)
        return True, self._said
