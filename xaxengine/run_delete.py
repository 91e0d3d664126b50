"""Deleting a run directory, safely: never a live run, never anything outside the runs dir (no jax).

A run whose Slurm job has not ended (queued, running, or Slurm cannot say) is refused too.
"""

import shutil
from pathlib import Path

from xaxengine.catalog import DEAD, read_run_info
from xaxengine.protocol import TERMINAL_STATES
from xaxengine.run_notes import is_run_dir
from xaxengine.runs import RunError, lock_held


def delete_run(run_dir: Path, runs_dir: Path) -> None:
    """Deletes a run directory, refusing a live run and anything that is not a run inside ``runs_dir``.

    Raises:
        RunError: With a one-line reason, when the run is live, not a run directory, or outside ``runs_dir``.
    """
    root, target = runs_dir.resolve(), run_dir.resolve()
    if target == root or not target.is_relative_to(root) or run_dir.is_symlink():
        raise RunError(f"refusing to delete {run_dir}: not inside the runs dir {runs_dir}")
    if not is_run_dir(target):
        raise RunError(f"refusing to delete {run_dir}: not a run directory")
    held = lock_held(target)
    info = read_run_info(target)
    if held or (info is not None and info.alive):
        raise RunError(f"refusing to delete {run_dir.name}: its engine is running (stop it first)")
    if info is not None and info.slurm is not None and info.state not in {*TERMINAL_STATES, DEAD}:
        said = f"Slurm {info.slurm.describe()}" + ("" if info.slurm.state else " (state unknown)")
        raise RunError(f"refusing to delete {run_dir.name}: {said} has not ended (scancel it first)")
    try:
        shutil.rmtree(target)
    except OSError as error:
        raise RunError(f"cannot delete {run_dir}: {error.strerror or error}") from None
