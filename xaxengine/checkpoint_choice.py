"""Which checkpoint ``resume`` and ``--init-from`` start from: the newest (``latest``) or the best (``best``).

``checkpoint.keep_best`` keeps one checkpoint in ``RUN_DIR/best_checkpoint/<step>/`` besides the last
``max_to_keep`` in ``RUN_DIR/checkpoints/``. Jax-free: the choice is made in the entry layer, on folders, before a
launcher starts, so every layout (and every child process) sees an ordinary run:

- ``--init-from RUN:best`` reads ``RUN_DIR/best_checkpoint`` instead of ``RUN_DIR/checkpoints`` (both are Orbax
  checkpoint folders; the init-from policy takes the newest readable step of the folder it is given).
- ``resume RUN --from best`` sets the run's checkpoints newer than the best step aside (renamed
  ``<step>.superseded``; nothing is deleted) and copies the best step into ``checkpoints/`` when ``max_to_keep`` had
  already deleted it there. The ordinary resume then restores it, and the run can save those later steps again.
- ``resume RUN --from STEP`` does the same for the checkpoint of step ``STEP`` (in ``checkpoints/`` or, when that
  step is the best one, ``best_checkpoint/``).
"""

import argparse
import shutil
from pathlib import Path

from xaxengine.runs import BEST_CHECKPOINT_DIR, CHECKPOINTS_DIR, RunError, RunLock

CHOICES = ("latest", "best")
SUPERSEDED = "superseded"


def step_folders(directory: Path) -> list[int]:
    """The finished checkpoint steps in an Orbax folder (digit-named sub-folders), oldest first."""
    try:
        return sorted(int(p.name) for p in directory.iterdir() if p.name.isdigit() and p.is_dir())
    except OSError:
        return []


def best_step_dir(run_dir: Path) -> Path:
    """``RUN_DIR/best_checkpoint/<step>``, the checkpoint ``checkpoint.keep_best`` kept.

    Raises:
        RunError: The run has none (it did not set ``checkpoint.keep_best``, or never validated).
    """
    steps = step_folders(run_dir / BEST_CHECKPOINT_DIR)
    if not steps:
        raise RunError(
            f"{run_dir}: no best checkpoint (none in {BEST_CHECKPOINT_DIR}/: the run needs checkpoint.keep_best "
            "and at least one validation)"
        )
    return run_dir / BEST_CHECKPOINT_DIR / str(steps[-1])


def split_choice(value: str) -> tuple[str, str]:
    """``RUN:best`` -> ``("RUN", "best")``; ``RUN`` or ``RUN:latest`` -> ``("RUN", "latest")``."""
    run, sep, choice = value.rpartition(":")
    if sep and choice in CHOICES:
        return run, choice
    return value, "latest"


def init_from_dir(run_dir: Path, choice: str) -> Path:
    """The folder ``--init-from`` reads for ``choice``: the run dir (its ``checkpoints/``) or its best checkpoint.

    Raises:
        RunError: ``best`` asked of a run without one.
    """
    if choice == "best":
        best_step_dir(run_dir)
        return run_dir / BEST_CHECKPOINT_DIR
    return run_dir


def _unused(path: Path) -> Path:
    target, n = path, 0
    while target.exists():
        n += 1
        target = path.with_name(f"{path.name}.{n}")
    return target


def parse_choice(value: str) -> str:
    """``--from``'s value checked: ``latest``, ``best`` or a step number (argparse's ``type``)."""
    if value in CHOICES or value.isdigit():
        return value
    raise argparse.ArgumentTypeError(f"expected latest, best or a checkpoint's step number, got {value!r}")


def step_dir(run_dir: Path, step: int) -> Path:
    """The checkpoint folder of ``step``: in ``checkpoints/``, else in ``best_checkpoint/``.

    Raises:
        RunError: No checkpoint of that step (the message lists the steps there are).
    """
    for folder in (CHECKPOINTS_DIR, BEST_CHECKPOINT_DIR):
        if step in step_folders(run_dir / folder):
            return run_dir / folder / str(step)
    steps = sorted(set(step_folders(run_dir / CHECKPOINTS_DIR)) | set(step_folders(run_dir / BEST_CHECKPOINT_DIR)))
    listed = ", ".join(map(str, steps)) if steps else "none"
    raise RunError(f"{run_dir}: no checkpoint of step {step} (checkpoints: {listed})")


def rewind_to(run_dir: Path, choice: str) -> str:
    """Makes the checkpoint ``choice`` (``best`` or a step number) the newest in ``checkpoints/``; says what it did.

    For ``resume --from``. Holds the run's lock meanwhile, so a live engine's run is refused, not rewritten under it.

    Raises:
        RunError: No such checkpoint, or a live engine holds the run.
    """
    lock = RunLock(run_dir)
    lock.acquire()
    try:
        source = best_step_dir(run_dir) if choice == "best" else step_dir(run_dir, int(choice))
        step = int(source.name)
        checkpoints = run_dir / CHECKPOINTS_DIR
        checkpoints.mkdir(exist_ok=True)
        newer = [s for s in step_folders(checkpoints) if s > step]
        for s in newer:
            (checkpoints / str(s)).rename(_unused(checkpoints / f"{s}.{SUPERSEDED}"))
        target = checkpoints / str(step)
        copied = not target.exists()
        if copied:
            partial = checkpoints / f".{step}.copying"
            shutil.rmtree(partial, ignore_errors=True)
            shutil.copytree(source, partial)
            partial.rename(target)
    finally:
        lock.release()
    done = f"resume --from {choice}: step {step}" + (f" (copied from {BEST_CHECKPOINT_DIR}/)" if copied else "")
    if newer:
        done += f"; newer checkpoints {', '.join(map(str, newer))} set aside as <step>.{SUPERSEDED}"
    return done
