"""One run as the catalogue sums it up (:class:`RunInfo`), and its JSON form for ``xaxengine ls --json`` (no jax)."""

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Self

from xaxengine.slurm_jobs import JobSummary


@dataclass
class RunInfo:
    """One run as ``ls``, ``ls --json`` and the TUI's picker show it.

    Attributes:
        run_dir: The run directory (a path on the run's host for a remote run).
        run_id: The directory's name.
        task: The task spec (``module:Class``) of the newest ``run_start``.
        state: The latest status, or ``dead`` when the engine is gone without a final one.
        step: The step of the newest ``status`` or train ``scalars`` event.
        last_loss: The newest train loss, if any.
        started_t: Wall time of the first event (0.0 when unknown).
        updated_t: Wall time of the newest event (0.0 when unknown).
        pid: The engine's pid (the lock's while one holds it, else the newest ``run_start``'s).
        host: The host of the newest ``run_start``.
        alive: Whether an engine runs it now (see the module docstring for the rule).
        last_status: The latest status exactly as written (``running`` for a dead run, say).
        reason: The latest status's reason, or what Slurm said when Slurm decides the state.
        slurm: The run's Slurm job (None for a run not submitted to Slurm).
        config: The run's config as dotted names (``optimizer.lr``), from its newest ``run_start``.
        best_valid_loss: The lowest valid loss within the scanned tail, if any.
        tags: The user's tags (``RUN_DIR/notes.json``, :mod:`xaxengine.run_notes`).
        note: The user's one-line note.
        archived: Whether the user archived the run (the picker hides it by default).
    """

    run_dir: Path
    run_id: str
    task: str
    state: str = "unknown"
    step: int = 0
    last_loss: float | None = None
    started_t: float = 0.0
    updated_t: float = 0.0
    pid: int | None = None
    host: str | None = None
    alive: bool = False
    last_status: str | None = None
    reason: str | None = None
    slurm: JobSummary | None = None
    config: dict[str, Any] = field(default_factory=dict)
    best_valid_loss: float | None = None
    tags: list[str] = field(default_factory=list)
    note: str = ""
    archived: bool = False

    @property
    def duration_s(self) -> float | None:
        """Seconds from the first event to the newest (None when either time is unknown)."""
        if not self.started_t or not self.updated_t:
            return None
        return max(0.0, self.updated_t - self.started_t)

    @property
    def key(self) -> str:
        """A stable identity for the run (its directory)."""
        return str(self.run_dir)

    def to_dict(self) -> dict[str, object]:
        """The JSON-ready dict of ``xaxengine ls --json``."""
        return {**asdict(self), "run_dir": str(self.run_dir)}

    @classmethod
    def from_dict(cls, data: dict[str, Any], **extra: Any) -> Self:
        """Reads one row of ``xaxengine ls --json`` (tolerating rows of older engines that lack fields)."""
        run_dir = Path(str(data.get("run_dir") or ""))
        loss = data.get("last_loss")
        pid = data.get("pid")
        job = data.get("slurm")
        config, best, tags = data.get("config"), data.get("best_valid_loss"), data.get("tags")
        return cls(
            run_dir=run_dir,
            run_id=str(data.get("run_id") or run_dir.name),
            task=str(data.get("task") or "?"),
            state=str(data.get("state") or "unknown"),
            step=int(data.get("step") or 0),
            last_loss=float(loss) if isinstance(loss, int | float) else None,
            started_t=float(data.get("started_t") or 0.0),
            updated_t=float(data.get("updated_t") or 0.0),
            pid=pid if isinstance(pid, int) else None,
            host=str(data["host"]) if data.get("host") else None,
            alive=bool(data.get("alive")),
            last_status=str(data["last_status"]) if data.get("last_status") else None,
            reason=str(data["reason"]) if data.get("reason") else None,
            slurm=_job_from_dict(job) if isinstance(job, dict) and job.get("job_id") else None,
            config=dict(config) if isinstance(config, dict) else {},
            best_valid_loss=float(best) if isinstance(best, int | float) else None,
            tags=[str(t) for t in tags] if isinstance(tags, list) else [],
            note=str(data.get("note") or ""),
            archived=data.get("archived") is True,
            **extra,
        )


def _job_from_dict(data: dict[str, Any]) -> JobSummary:
    def text(name: str) -> str | None:
        return str(data[name]) if data.get(name) else None

    restarts = data.get("restarts")
    return JobSummary(str(data["job_id"]), text("state"), text("reason"), text("nodes"), int(restarts or 0))
