"""Run directories: layout, ids, the lock held by a live engine, and run status read from events (no jax)."""

import fcntl
import logging
import os
import re
import secrets
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO

from xaxengine.protocol import TERMINAL_STATES, Kind, decode, read_events

logger = logging.getLogger(__name__)

EVENTS_FILE = "events.jsonl"
CONFIG_FILE = "config.toml"
STDOUT_FILE = "stdout.log"
LOCK_FILE = "lock"
SLURM_JOB_FILE = "slurm_job"  # the Slurm job id of a run submitted with `xaxengine slurm --submit`
CHECKPOINTS_DIR = "checkpoints"
TENSORBOARD_DIR = "tensorboard"
ARTIFACTS_DIR = "artifacts"


class RunError(Exception):
    """A problem with a run directory or lock; its message is one line for the user."""


def resolve_runs_dir(flag: str | os.PathLike[str] | None = None) -> Path:
    """Returns the runs root: the flag, else ``$XAX_RUNS_DIR``, else ``./runs``."""
    if flag:
        return Path(flag)
    return Path(os.environ.get("XAX_RUNS_DIR") or "runs")


def task_dir_name(class_name: str) -> str:
    """Maps a task class name to its folder name: ``MnistDiffusionTask`` -> ``mnist_diffusion``."""
    name = re.sub(r"Task$", "", class_name) or class_name
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


def new_run_id() -> str:
    """Returns a sortable, unique-enough run id such as ``20261125-084414-3fa2``."""
    return time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(2)


class RunLock:
    """An exclusive ``flock`` on ``RUN_DIR/lock`` holding the engine's pid.

    The kernel drops a flock when its process dies, so a lock left by a killed engine (even ``kill -9``) is stale
    by construction and the next engine takes it over; the pid written inside is only informative.
    """

    def __init__(self, run_dir: Path) -> None:
        """Creates an unacquired lock for a run directory."""
        self.path = run_dir / LOCK_FILE
        self.handle: IO[str] | None = None

    def acquire(self) -> None:
        """Takes the lock or raises RunError naming the pid that holds it."""
        handle = open(self.path, "a+")  # noqa: SIM115 (held open for the process lifetime)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            pid = read_lock_pid(self.path.parent)
            raise RunError(f"{self.path.parent}: run is already in use by a live engine (pid {pid})") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self.handle = handle

    def release(self) -> None:
        """Releases the lock (the file stays; an unlocked file means no live engine)."""
        if self.handle is not None:
            fcntl.flock(self.handle, fcntl.LOCK_UN)
            self.handle.close()
            self.handle = None


def read_lock_pid(run_dir: Path) -> int | None:
    """Returns the pid written in the run's lock file, if any."""
    try:
        text = (run_dir / LOCK_FILE).read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def live_pid(run_dir: Path) -> int | None:
    """Returns the pid of the live engine holding the run's lock, or None when no engine holds it."""
    path = run_dir / LOCK_FILE
    if not path.exists():
        return None
    with open(path) as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return read_lock_pid(run_dir)
        fcntl.flock(handle, fcntl.LOCK_UN)
    return None


@dataclass
class RunInfo:
    """A summary of one run, read from its events file."""

    run_id: str
    task: str
    run_dir: str
    state: str
    step: int
    last_loss: float | None
    started_t: float | None
    updated_t: float | None
    pid: int | None
    alive: bool

    def to_dict(self) -> dict[str, object]:
        """Returns the JSON-ready dict used by ``xaxengine ls --json``."""
        return asdict(self)


def _tail_lines(path: Path, max_bytes: int = 1 << 18) -> list[bytes]:
    size = path.stat().st_size
    with open(path, "rb") as f:
        f.seek(max(0, size - max_bytes))
        data = f.read()
    lines = data.split(b"\n")
    return lines[1:] if size > max_bytes else lines


def read_run_info(run_dir: Path) -> RunInfo | None:
    """Summarizes a run from the head and tail of its events file; None if it has no readable events."""
    events_path = run_dir / EVENTS_FILE
    if not events_path.exists():
        return None
    head = next(iter(read_events(events_path)), None)
    if head is None:
        return None
    task, started, state, step, loss, updated = str(head.get("task", "?")), head.get("t"), "unknown", 0, None, None
    for line in _tail_lines(events_path):
        event = decode(line) if line.strip() else None
        if event is None:
            continue
        updated = event.get("t", updated)
        if event["kind"] == Kind.RUN_START:
            task = str(event.get("task", task))
        elif event["kind"] == Kind.STATUS:
            state, step = str(event.get("state", state)), int(event.get("step") or step)
        elif event["kind"] == Kind.SCALARS and event.get("phase") == "train":
            step = int(event.get("step", step))
            value = (event.get("values") or {}).get("loss")
            loss = float(value) if isinstance(value, int | float) else loss
    pid = live_pid(run_dir)
    if pid is None and state not in TERMINAL_STATES:
        state = "dead" if state != "unknown" else state
    return RunInfo(
        run_id=run_dir.name,
        task=task,
        run_dir=str(run_dir),
        state=state,
        step=step,
        last_loss=loss,
        started_t=started,
        updated_t=updated,
        pid=pid,
        alive=pid is not None,
    )


def list_runs(runs_dir: Path) -> list[RunInfo]:
    """Lists every run under ``RUNS_DIR/<task>/<run_id>/``, oldest first."""
    if not runs_dir.is_dir():
        return []
    infos = []
    for path in sorted(runs_dir.glob(f"*/*/{EVENTS_FILE}")):
        try:
            info = read_run_info(path.parent)
        except OSError as error:  # one unreadable run must not hide the others
            logger.warning("skipping %s: %s", path.parent, error)
            continue
        if info is not None:
            infos.append(info)
    return sorted(infos, key=lambda i: (i.started_t or 0.0, i.run_id))


def find_run(spec: str, runs_dir: Path) -> Path:
    """Resolves a run argument: a run directory path, a run id under the runs dir, or ``latest``.

    Raises:
        RunError: when nothing matches, or a run id is ambiguous.
    """
    path = Path(spec)
    if any((path / name).exists() for name in (EVENTS_FILE, CONFIG_FILE, SLURM_JOB_FILE)):
        return path
    if spec == "latest":
        runs = list_runs(runs_dir)
        if not runs:
            raise RunError(f"no runs under {runs_dir}")
        return Path(runs[-1].run_dir)
    matches = [p for p in runs_dir.glob(f"*/{spec}*") if p.is_dir()] if runs_dir.is_dir() and "/" not in spec else []
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        raise RunError(f"run '{spec}' is ambiguous under {runs_dir}: {', '.join(sorted(m.name for m in matches))}")
    raise RunError(f"run '{spec}' not found (not a run directory, nor a run id under {runs_dir})")
