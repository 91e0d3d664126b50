"""Requests to a running sweep's drivers, as files in the sweep folder that each driver reads every loop.

``SWEEP_DIR/parallel`` holds the number of trials a driver runs at once (it replaces the sweep file's ``parallel``,
also for ``--resume``); ``SWEEP_DIR/prune/tNNN`` asks the driver that runs trial NNN to prune it (checkpoint, end
``interrupted``, recorded ``PRUNED`` in the study). Files, not signals: drivers on other machines that share the
folder see them too, and a request outlives a driver restart. No jax, no optuna.
"""

import contextlib
import os
from pathlib import Path

from xaxengine.files import atomic_write

PARALLEL_FILE = "parallel"
PRUNE_DIR = "prune"
MAX_PARALLEL = 256


def request_parallel(sweep_dir: Path, parallel: int) -> None:
    """Asks the sweep's drivers to run ``parallel`` trials at once from their next loop on."""
    atomic_write(sweep_dir / PARALLEL_FILE, f"{parallel}\n")


def requested_parallel(sweep_dir: Path) -> int | None:
    """The ``parallel`` asked for, or None when nothing (or nothing usable: a garbled file is ignored) was asked."""
    try:
        text = (sweep_dir / PARALLEL_FILE).read_text().strip()
    except (OSError, UnicodeDecodeError):
        return None
    try:
        value = int(text)
    except ValueError:
        return None
    return value if 1 <= value <= MAX_PARALLEL else None


def prune_path(sweep_dir: Path, number: int) -> Path:
    """The request file of one trial."""
    return sweep_dir / PRUNE_DIR / f"t{number:03d}"


def request_prune(sweep_dir: Path, number: int) -> None:
    """Asks the driver that runs trial ``number`` to prune it."""
    path = prune_path(sweep_dir, number)
    path.parent.mkdir(exist_ok=True)
    atomic_write(path, "by hand\n")


def prune_requests(sweep_dir: Path) -> set[int]:
    """The trial numbers someone asked to prune (and no driver has acted on yet)."""
    try:
        names = os.listdir(sweep_dir / PRUNE_DIR)
    except OSError:
        return set()
    return {int(n[1:]) for n in names if n.startswith("t") and n[1:].isdigit()}


def clear_prune(sweep_dir: Path, number: int) -> None:
    """Forgets the request of trial ``number`` (acted on, or the trial ended)."""
    with contextlib.suppress(OSError):
        prune_path(sweep_dir, number).unlink()
