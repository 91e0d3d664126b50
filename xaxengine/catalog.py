"""The run catalogue of both halves: what a run directory says about its run, and whether its engine lives (no jax).

``xaxengine ls`` / ``ls --json``, the TUI's picker and run view all read runs here, so they give the same answer.

Reading: the head of ``events.jsonl`` gives the start time (and the task when nothing later names it); the file is
then read backwards in growing blocks, at most :data:`MAX_SCAN_BYTES`, until the newest ``status``, the newest
``run_start`` (a resumed run has several: the last one's pid and host are the live ones) and the newest train
``scalars`` are found. So the answer does not depend on how long the file is.

Liveness, one rule: the run's lock decides (the engine holds a ``flock`` from before its first event to after its
last; the kernel drops it when the process dies). Only where the lock cannot be asked (no lock file, a file system
without ``flock``) are the newest ``run_start``'s pid and host used, and only on that host. A run whose engine is gone
without a final status is :data:`DEAD`; a live one shows its latest status (``starting`` included).
"""

import logging
import os
import re
import socket
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any, Self

from xaxengine.protocol import TERMINAL_STATES, Event, Kind, State, decode
from xaxengine.runs import CONFIG_FILE, EVENTS_FILE, RunError, lock_held, read_lock_pid

logger = logging.getLogger(__name__)

DEAD = "dead"  # not an event state: the catalogue's word for an engine gone without a final status
HEAD_BYTES = 1 << 16
TAIL_BYTES = 1 << 16
MAX_BLOCK_BYTES = 1 << 22
MAX_SCAN_BYTES = 1 << 26  # bound of the backward scan (a live run's last status may be far back)
_TASK_LINE = re.compile(rb'^task\s*=\s*"([^"]+)"', re.MULTILINE)


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
            **extra,
        )


def engine_alive(run_dir: Path, pid: object = None, host: object = None) -> bool | None:
    """The one liveness rule: the lock if it can be asked, else ``pid`` on ``host`` if that is this host.

    Returns:
        True or False, or None when nothing here can tell (no lock to ask and the engine ran on another host).
    """
    held = lock_held(run_dir)
    if held is not None:
        return held
    if not isinstance(pid, int) or pid <= 0 or host not in (None, socket.gethostname()):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def shown_state(last_status: str, alive: bool | None) -> str:
    """What a run's state is shown as: its latest status, or ``dead`` when its engine is gone without a final one."""
    if alive is False and last_status not in TERMINAL_STATES:
        return DEAD
    return last_status


def _backwards(f: IO[bytes], size: int, limit: int) -> Iterator[Event]:
    """The file's complete events from the newest backwards, reading at most ``limit`` bytes in growing blocks."""
    end, carry, block = size, b"", TAIL_BYTES
    while end > 0 and size - end < limit:
        start = max(0, end - block)
        f.seek(start)
        lines = (f.read(end - start) + carry).split(b"\n")
        carry = lines.pop(0) if start > 0 else b""  # the first piece may be the end of a line further back
        for line in reversed(lines):
            if line.strip() and (event := decode(line)) is not None:
                yield event
        end, block = start, min(block * 2, MAX_BLOCK_BYTES)


def _head(f: IO[bytes]) -> list[Event]:
    f.seek(0)
    complete = f.read(HEAD_BYTES).rpartition(b"\n")[0]
    return [ev for line in complete.split(b"\n") if line.strip() and (ev := decode(line)) is not None]


def _task_from_config(run_dir: Path) -> str | None:
    """The ``task = "..."`` line at the top of ``config.toml`` (a run still starting has no ``run_start`` yet)."""
    try:
        with open(run_dir / CONFIG_FILE, "rb") as f:
            match = _TASK_LINE.search(f.read(4096))
    except OSError:
        return None
    return match.group(1).decode(errors="replace") if match else None


def read_run_info(run_dir: Path, max_scan_bytes: int = MAX_SCAN_BYTES) -> RunInfo | None:
    """Summarises one run directory; None when it has no readable event.

    Raises:
        OSError: When the events file exists but cannot be read.
    """
    path = run_dir / EVENTS_FILE
    if not path.exists():
        return None
    status: Event | None = None
    start: Event | None = None
    train: Event | None = None
    stepped: Event | None = None  # the newest status or train scalars: it gives the step
    newest: Event | None = None
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        head = _head(f)
        for event in _backwards(f, size, max_scan_bytes):
            newest = newest or event
            kind = event["kind"]
            if kind == Kind.STATUS:
                status = status or event
                stepped = stepped or event
            elif kind == Kind.RUN_START:
                start = start or event
            elif kind == Kind.SCALARS and event.get("phase", "train") == "train":
                train = train or event
                stepped = stepped or event
            if status is not None and start is not None and train is not None:
                break
    if newest is None and not head:
        return None
    start = start or next((ev for ev in head if ev["kind"] == Kind.RUN_START), None)
    if status is not None:
        last_status = str(status.get("state") or "unknown")
    else:  # not within the scanned tail: its engine moved on from ``starting`` (a long run's ``running``)
        last_status = State.RUNNING if train is not None else State.STARTING
    task = (start or {}).get("task") or _task_from_config(run_dir) or run_dir.parent.name
    loss = ((train or {}).get("values") or {}).get("loss")
    pid, host = (start or {}).get("pid"), (start or {}).get("host")
    alive = engine_alive(run_dir, pid, host)
    lock_pid = read_lock_pid(run_dir) if alive else None
    first = head[0] if head else newest or {}
    return RunInfo(
        run_dir=run_dir,
        run_id=run_dir.name,
        task=str(task),
        state=shown_state(str(last_status), alive),
        step=int((stepped or {}).get("step") or 0),
        last_loss=float(loss) if isinstance(loss, int | float) else None,
        started_t=float(first.get("t") or 0.0),
        updated_t=float((newest or first).get("t") or 0.0),
        pid=lock_pid or (pid if isinstance(pid, int) else None),
        host=str(host) if host else None,
        alive=bool(alive),
        last_status=str(last_status),
    )


def run_dirs(runs_dir: Path) -> set[Path]:
    """The run directories under a runs root (``<task>/<run_id>/``) or a task folder (``<run_id>/``)."""
    if not runs_dir.is_dir():
        return set()
    return {p.parent for pattern in (f"*/*/{EVENTS_FILE}", f"*/{EVENTS_FILE}") for p in runs_dir.glob(pattern)}


def list_runs(runs_dir: Path, newest_first: bool = False) -> list[RunInfo]:
    """Every readable run under ``runs_dir``, oldest first (newest first with ``newest_first``)."""
    infos = []
    for run_dir in run_dirs(runs_dir):
        try:
            info = read_run_info(run_dir)
        except OSError as error:  # one unreadable run must not hide the others
            logger.warning("skipping %s: %s", run_dir, error)
            continue
        if info is not None:
            infos.append(info)
    return sorted(infos, key=lambda i: (i.started_t, i.run_id), reverse=newest_first)


def find_run(spec: str, runs_dir: Path) -> Path:
    """Resolves a run argument: a run directory path, a run id under the runs dir, or ``latest``.

    Raises:
        RunError: when nothing matches, or a run id is ambiguous.
    """
    path = Path(spec)
    if (path / EVENTS_FILE).exists() or (path / CONFIG_FILE).exists():
        return path
    if spec == "latest":
        runs = list_runs(runs_dir)
        if not runs:
            raise RunError(f"no runs under {runs_dir}")
        return runs[-1].run_dir
    matches = [p for p in runs_dir.glob(f"*/{spec}*") if p.is_dir()] if runs_dir.is_dir() and "/" not in spec else []
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        raise RunError(f"run '{spec}' is ambiguous under {runs_dir}: {', '.join(sorted(m.name for m in matches))}")
    raise RunError(f"run '{spec}' not found (not a run directory, nor a run id under {runs_dir})")
