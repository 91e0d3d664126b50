"""The TUI's reading of sweep folders (``RUNS_DIR/sweeps/<id>/``): the driver's ``status.json``, read from disk.

Textual-, jax- and optuna-free. Every value is checked: a missing, partial or garbled ``status.json`` gives a
:class:`SweepStatus` with a one-line :attr:`SweepStatus.notice`, never an exception. The sweep's state (running,
dead ...) comes from :func:`xaxengine.sweep.cli.sweep_summary`, the rule ``xaxengine sweep ls`` uses.
"""

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xaxengine.sweep.cli import sweep_summary
from xaxengine.sweep.report import format_params, format_value

__all__ = [
    "SweepStatus",
    "TrialInfo",
    "best_so_far",
    "finite_or_none",
    "format_params",
    "format_value",
    "read_sweep",
    "scan_sweeps",
    "sweeps_root",
    "trial_run_dir",
]

SWEEPS_DIR = "sweeps"
META_FILE = "sweep.json"
STATUS_FILE = "status.json"
FINISHED = ("complete", "pruned", "fail")


@dataclass(frozen=True)
class TrialInfo:
    """One trial row of ``status.json`` (a :class:`xaxengine.sweep.report.TrialRow`), every field checked.

    Attributes:
        number: The Optuna trial number.
        state: ``running``, ``complete``, ``pruned``, ``fail`` (lower case, as the driver writes it).
        params: The sampled params.
        value: The objective value; None when not (yet) known or not finite.
        step: The last step the driver reported for it.
        run_dir: The trial's run dir as the driver recorded it ('' before it has one).
        reason: Why it failed or was pruned.
    """

    number: int
    state: str
    params: dict[str, Any] = field(default_factory=dict)
    value: float | None = None
    step: int = 0
    run_dir: str = ""
    reason: str = ""


@dataclass(frozen=True)
class SweepStatus:
    """What the TUI shows of one sweep.

    Attributes:
        sweep_id: The sweep's id (its folder's name).
        dir: The sweep folder.
        state: ``running``, ``finished``, ``stopped``, ``dead`` (its drivers were killed) or ``created``.
        done: Finished trials (complete, pruned or failed).
        trials: The trial budget, when known.
        objective: The objective metric (``valid/accuracy``), '' when unknown.
        direction: ``minimize`` or ``maximize``.
        best: The best trial so far.
        rows: Every trial, by number.
        notice: One line saying what was wrong with ``status.json`` ('' when it read fine).
        created_t: When the sweep was created (``sweep.json``; 0 when unreadable).
        parallel: Trials the driver runs at once, as it last wrote (None when unknown).
    """

    sweep_id: str
    dir: Path
    state: str = "created"
    done: int = 0
    trials: int | None = None
    objective: str = ""
    direction: str = "minimize"
    best: TrialInfo | None = None
    rows: tuple[TrialInfo, ...] = ()
    notice: str = ""
    created_t: float = 0.0
    parallel: int | None = None

    @property
    def maximize(self) -> bool:
        """Whether a higher objective is better."""
        return self.direction == "maximize"


def sweeps_root(runs_dir: Path) -> Path:
    """Where the sweeps of a runs root live; a task folder's parent is looked at too (the picker may show one)."""
    root = runs_dir / SWEEPS_DIR
    if not root.is_dir() and (runs_dir.parent / SWEEPS_DIR).is_dir():
        return runs_dir.parent / SWEEPS_DIR
    return root


def scan_sweeps(runs_dir: Path) -> list[SweepStatus]:
    """Every sweep under ``runs_dir/sweeps`` (see :func:`sweeps_root`), newest ``sweep.json`` ``created_t`` first."""
    try:
        dirs = [p.parent for p in sweeps_root(runs_dir).glob(f"*/{META_FILE}")]
    except OSError:
        return []
    return sorted((read_sweep(d) for d in dirs), key=lambda s: (s.created_t, s.sweep_id), reverse=True)


def read_sweep(sweep_dir: Path) -> SweepStatus:
    """The sweep in ``sweep_dir`` as its ``status.json`` says (with a notice when that file is missing or bad)."""
    status, notice = _load_status(sweep_dir / STATUS_FILE)
    try:
        state = str(sweep_summary(sweep_dir)["state"])
    except (OSError, ValueError, AttributeError, TypeError):  # its workers/ folder vanished while read
        state = "created"
    rows = status.get("rows")
    trials = tuple(t for t in map(_trial, rows if isinstance(rows, list) else []) if t is not None)
    done = _int(status.get("done"))
    best = _trial(status.get("best"))
    direction = "maximize" if status.get("direction") == "maximize" else "minimize"
    return SweepStatus(
        sweep_id=sweep_dir.name,
        dir=sweep_dir,
        state=state,
        done=done if done is not None else sum(t.state in FINISHED for t in trials),
        trials=_int(status.get("trials")),
        objective=str(status.get("objective") or ""),
        direction=direction,
        best=best if best is not None and best.value is not None else None,
        rows=tuple(sorted(trials, key=lambda t: t.number)),
        notice=notice,
        created_t=_created_t(sweep_dir / META_FILE),
        parallel=_int(status.get("parallel")),
    )


def _created_t(path: Path) -> float:
    try:
        meta = json.loads(path.read_text())
    except (OSError, ValueError):
        return 0.0
    return (finite_or_none(meta.get("created_t")) if isinstance(meta, dict) else None) or 0.0


def _load_status(path: Path) -> tuple[dict[str, Any], str]:
    try:
        text = path.read_text()
    except FileNotFoundError:
        return {}, f"no {STATUS_FILE} yet (the driver writes it once it starts)"
    except (OSError, UnicodeDecodeError) as error:
        return {}, f"{STATUS_FILE} unreadable: {error}"
    try:
        status = json.loads(text)
    except ValueError as error:
        return {}, f"{STATUS_FILE} is not valid JSON ({error}); showing nothing until the driver rewrites it"
    if not isinstance(status, dict):
        return {}, f"{STATUS_FILE} holds a {type(status).__name__}, not an object; ignored"
    return status, ""


def _trial(row: object) -> TrialInfo | None:
    """A row as a :class:`TrialInfo`; None when it has no usable trial number."""
    if not isinstance(row, dict):
        return None
    number = _int(row.get("number"))
    if number is None:
        return None
    params = row.get("params")
    return TrialInfo(
        number=number,
        state=str(row.get("state") or "?"),
        params=params if isinstance(params, dict) else {},
        value=finite_or_none(row.get("value")),
        step=_int(row.get("step")) or 0,
        run_dir=str(row.get("run_dir") or ""),
        reason=str(row.get("reason") or ""),
    )


def _int(value: object) -> int | None:
    number = finite_or_none(value)
    return int(number) if number is not None and abs(number) < 2**63 else None


def finite_or_none(value: object) -> float | None:
    """``value`` as a float when it is a finite number, else None (NaN, strings, None ...)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def best_so_far(rows: tuple[TrialInfo, ...], maximize: bool) -> list[tuple[int, float]]:
    """``(trial number, best value up to it)`` at each completed trial with a value, in trial order."""
    out: list[tuple[int, float]] = []
    for row in sorted(rows, key=lambda t: t.number):
        if row.state != "complete" or row.value is None:
            continue
        best = out[-1][1] if out else row.value
        out.append((row.number, max(best, row.value) if maximize else min(best, row.value)))
    return out


def trial_run_dir(sweep: SweepStatus, trial: TrialInfo) -> Path | None:
    """The trial's run dir on this machine: as recorded, else under this runs root (a moved or remounted one).

    Returns:
        A folder holding ``events.jsonl``, or None when the trial has none (yet).
    """
    if not trial.run_dir:
        return None
    recorded = Path(trial.run_dir)
    here = sweep.dir.parent.parent / recorded.parent.name / recorded.name
    return next((p for p in (recorded, here) if (p / "events.jsonl").is_file()), None)
