"""Run directories: layout, ids, the runs-dir rule, atomic file writes and the lock held by a live engine (no jax).

The run catalogue (what a run dir says about its run: task, state, liveness) is in :mod:`xaxengine.catalog`.
"""

import fcntl
import os
import re
import secrets
import time
from pathlib import Path
from typing import IO

EVENTS_FILE = "events.jsonl"
STOP_REASON_FILE = "stop_reason"  # written by whoever sends a stop signal with a reason (a sweep pruning)
CONFIG_FILE = "config.toml"
STDOUT_FILE = "stdout.log"
LOCK_FILE = "lock"
SLURM_JOB_FILE = "slurm_job"  # the Slurm job id of a run submitted with `xaxengine slurm --submit`
CHECKPOINTS_DIR = "checkpoints"
BEST_CHECKPOINT_DIR = "best_checkpoint"  # the one checkpoint checkpoint.keep_best keeps
TENSORBOARD_DIR = "tensorboard"
ARTIFACTS_DIR = "artifacts"
RUNS_DIR_ENV = "XAX_RUNS_DIR"
DEFAULT_RUNS_DIR = "runs"
# events.jsonl and config.toml both hold the resolved config (paths, user fields that may carry tokens): owner only.
RUN_FILE_MODE = 0o600


class RunError(Exception):
    """A problem with a run directory or lock; its message is one line for the user."""


def resolve_runs_dir(flag: str | os.PathLike[str] | None = None) -> Path:
    """The runs root, the one rule of both halves: the flag, else a non-empty ``$XAX_RUNS_DIR``, else ``./runs``."""
    if flag:
        return Path(flag)
    return Path(os.environ.get(RUNS_DIR_ENV) or DEFAULT_RUNS_DIR)


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


def lock_held(run_dir: Path) -> bool | None:
    """Asks the run's lock whether a live engine holds it.

    Returns:
        True while an engine holds it, False when nobody does, None when the lock cannot be asked (no lock file, a
        file system without ``flock``, no permission to open it).
    """
    try:
        handle = open(run_dir / LOCK_FILE)  # noqa: SIM115 (closed below; a shared probe, never written)
    except OSError:
        return None
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        except OSError:
            return None
        fcntl.flock(handle, fcntl.LOCK_UN)
    return False


def live_pid(run_dir: Path) -> int | None:
    """Returns the pid of the live engine holding the run's lock, or None when no engine holds it."""
    return read_lock_pid(run_dir) if lock_held(run_dir) else None
