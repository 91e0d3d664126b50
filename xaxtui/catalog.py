"""Lists runs under a runs dir by reading the head and tail of each ``events.jsonl`` (no engine, no jax)."""

import os
import socket
from dataclasses import dataclass
from pathlib import Path

from xaxengine.protocol import TERMINAL_STATES, Event, decode

HEAD_BYTES = 1 << 16
TAIL_BYTES = 1 << 16


@dataclass
class RunInfo:
    """One run as the picker shows it."""

    run_dir: Path
    run_id: str
    task: str
    state: str = "unknown"
    step: int = 0
    last_loss: float | None = None
    started_t: float = 0.0
    updated_t: float = 0.0
    alive: bool = False

    @property
    def key(self) -> str:
        """A stable identity for the run (its directory)."""
        return str(self.run_dir)


def _lines(data: bytes) -> list[Event]:
    return [ev for line in data.split(b"\n") if line.strip() and (ev := decode(line)) is not None]


def _pid_alive(pid: object, host: object) -> bool:
    if not isinstance(pid, int) or host not in (None, socket.gethostname()):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read_run(run_dir: Path) -> RunInfo | None:
    """Summarises one run directory, or None when it has no readable events."""
    path = run_dir / "events.jsonl"
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            head = _lines(f.read(HEAD_BYTES).rpartition(b"\n")[0])
            f.seek(max(0, size - TAIL_BYTES))
            tail = _lines(f.read())
    except OSError:
        return None
    events = head + tail
    if not events:
        return None
    start = next((ev for ev in events if ev["kind"] == "run_start"), {})
    info = RunInfo(run_dir, str(start.get("run_id") or run_dir.name), str(start.get("task") or run_dir.parent.name))
    info.started_t = float(events[0].get("t", 0.0))
    info.updated_t = float(events[-1].get("t", 0.0))
    for ev in events:
        if ev["kind"] == "status":
            info.state = str(ev.get("state"))
            info.step = max(info.step, int(ev.get("step") or 0))
        elif ev["kind"] == "scalars" and ev.get("phase", "train") == "train":
            info.step = max(info.step, int(ev.get("step") or 0))
            loss = (ev.get("values") or {}).get("loss")
            info.last_loss = loss if isinstance(loss, float | int) else info.last_loss
    info.alive = info.state not in TERMINAL_STATES and _pid_alive(start.get("pid"), start.get("host"))
    return info


def scan_runs(runs_dir: str | Path) -> list[RunInfo]:
    """All runs under ``runs_dir`` (``<task>/<run_id>/events.jsonl``), newest first."""
    root = Path(runs_dir)
    dirs = {p.parent for pattern in ("*/*/events.jsonl", "*/events.jsonl") for p in root.glob(pattern)}
    runs = [info for d in dirs if (info := read_run(d)) is not None]
    return sorted(runs, key=lambda r: r.started_t, reverse=True)
