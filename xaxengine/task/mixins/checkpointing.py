"""Checkpoints on Orbax: periodic async saves of the whole train state plus loader position and config.

A checkpoint holds ``state`` (params, optimizer state, step, PRNG key: a standard Orbax pytree that Orbax's own API
restores without our code) and ``meta`` (JSON: step, loader position, resolved config). Saves are asynchronous: the
device-to-host copy happens in ``save`` and the write continues in the background while training goes on.
"""

import contextlib
import logging
import os
import shutil
import time
from pathlib import Path
from typing import Any

import jax
import numpy as np
from jaxtyping import PyTree

from xaxengine.config.sections import Config
from xaxengine.protocol import Kind
from xaxengine.runs import CHECKPOINTS_DIR
from xaxengine.task.mixins.logger import LoggerMixin

logger = logging.getLogger(__name__)


class CheckpointSaveError(RuntimeError):
    """A checkpoint save failed under ``checkpoint.on_error = "stop"``: the run ends failed at the last good one."""

    def __init__(self, step: int, reason: str, last_good: int | None) -> None:
        super().__init__(f"checkpoint at step {step} failed: {reason}")
        self.step, self.last_good = step, last_good


def one_line(error: BaseException) -> str:
    """``Type: message`` of an exception on one line (Orbax wraps errors in multi-line reports)."""
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text[:300]}"


def _dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


class CheckpointingMixin[ConfigT: Config](LoggerMixin[ConfigT]):
    """Owns the Orbax CheckpointManager and emits a ``checkpoint`` event per finished save."""

    _manager: Any = None
    _pending: tuple[int, float] | None = None

    @property
    def checkpoint_dir(self) -> Path:
        """``RUN_DIR/checkpoints``."""
        return self.run_dir / CHECKPOINTS_DIR

    def checkpoint_manager(self) -> Any:
        """Returns the (lazily created) Orbax CheckpointManager of this run."""
        if self._manager is None:
            import orbax.checkpoint as ocp

            cfg = self.config.checkpoint
            options = ocp.CheckpointManagerOptions(
                max_to_keep=cfg.max_to_keep, enable_async_checkpointing=cfg.async_save, create=True
            )
            self._manager = ocp.CheckpointManager(self.checkpoint_dir.resolve(), options=options)
        return self._manager

    @staticmethod
    def open_checkpoint_manager(run_dir: Path) -> Any:
        """A read-only CheckpointManager over another run's checkpoints (for ``--init-from``)."""
        import orbax.checkpoint as ocp

        directory = run_dir / CHECKPOINTS_DIR if (run_dir / CHECKPOINTS_DIR).is_dir() else run_dir
        return ocp.CheckpointManager(directory.resolve(), options=ocp.CheckpointManagerOptions(read_only=True))

    def save_checkpoint(self, step: int, state: PyTree, meta: dict[str, Any]) -> None:
        """Starts saving ``state`` at ``step`` (waits for the previous save first)."""
        import orbax.checkpoint as ocp

        self.finish_pending_save()
        start = time.perf_counter()
        self._pending = (step, start)
        try:
            # Orbax creates the step folder in a background thread and waits for a signal it never gets when that
            # fails (a read-only or full checkpoint dir hangs the save for minutes): ask the disk first.
            # One probe per process: the ranks of a multi-process job share this folder.
            probe = self.checkpoint_dir / f".write-probe-{step}-{os.getpid()}"
            probe.write_bytes(b"x")
            probe.unlink()
            manager = self.checkpoint_manager()
            if step in manager.all_steps():
                self._pending = None
                return
            manager.save(
                step,
                args=ocp.args.Composite(
                    state=ocp.args.StandardSave(state), meta=ocp.args.JsonSave({"step": step, **meta})
                ),
            )
        except Exception as error:
            self._save_failed(error)
            return
        if not self.config.checkpoint.async_save:
            self.finish_pending_save()

    def poll_pending_save(self) -> None:
        """Emits the checkpoint event of a background save that has finished, without waiting."""
        if self._pending is not None and not self.checkpoint_manager().is_saving_in_progress():
            self.finish_pending_save()

    def finish_pending_save(self) -> None:
        """Waits for the background save (if any) and emits its ``checkpoint`` event."""
        if self._pending is None:
            return
        manager = self.checkpoint_manager()
        try:
            manager.wait_until_finished()
        except Exception as error:
            self._save_failed(error)
            return
        step, start = self._pending
        path = self.checkpoint_dir / str(step)
        if not path.is_dir():  # Orbax finished without an error but the step never landed: a failed save all the same
            self._save_failed(OSError(f"the checkpoint folder {path.name} was not written"))
            return
        self._pending = None
        kept = sorted(manager.all_steps())
        self.bus.emit(
            Kind.CHECKPOINT,
            step=step,
            path=str(path),
            bytes=_dir_bytes(path),
            save_s=time.perf_counter() - start,
            kept=kept,
        )

    def _save_failed(self, error: BaseException) -> None:
        """Reports a save that did not finish, then stops the run or goes on, by ``checkpoint.on_error``.

        One ``log`` error and one ``checkpoint_failed`` event, never a ``checkpoint``; the partial folder is removed.

        Raises:
            CheckpointSaveError: Under ``on_error = "stop"``.
        """
        assert self._pending is not None
        step, _ = self._pending
        self._pending = None
        reason = one_line(error)
        for partial in self.checkpoint_dir.glob(f"{step}.orbax-checkpoint-tmp*"):
            shutil.rmtree(partial, ignore_errors=True)  # frees the space a full disk needs for the final status
        self._reset_manager()
        last_good = max(self._readable_steps(), default=None)
        self.bus.emit(Kind.CHECKPOINT_FAILED, step=step, reason=reason, last_good_step=last_good)
        self.log_message("error", f"checkpoint at step {step} failed: {reason} (last good checkpoint: {last_good})")
        if self.config.checkpoint.on_error == "stop":
            raise CheckpointSaveError(step, reason, last_good)

    def _readable_steps(self) -> list[int]:
        try:
            return [int(p.name) for p in self.checkpoint_dir.iterdir() if p.name.isdigit() and p.is_dir()]
        except OSError:
            return []

    def _reset_manager(self) -> None:
        """Drops a manager whose background save failed (its threads may be wedged); the next save makes a new one."""
        manager, self._manager = self._manager, None
        if manager is not None:
            with contextlib.suppress(Exception):
                manager.close()

    def set_aside_checkpoint(self, step: int) -> Path | None:
        """Renames this run's checkpoint folder of ``step`` to ``<step>.unreadable`` (``.1``, ... if taken)."""
        source = self.checkpoint_dir / str(step)
        if not source.exists():
            return None
        target = source.with_name(f"{step}.unreadable")
        n = 0
        while target.exists():
            n += 1
            target = source.with_name(f"{step}.unreadable.{n}")
        source.rename(target)
        self.checkpoint_manager().reload()
        return target

    def latest_checkpoint_step(self) -> int | None:
        """The newest checkpoint step on disk, if any."""
        return self.checkpoint_manager().latest_step()

    def restore_checkpoint(
        self, step: int, abstract_state: PyTree, manager: Any = None
    ) -> tuple[PyTree, dict[str, Any]]:
        """Restores ``state`` (into the shapes/shardings of ``abstract_state``) and ``meta`` at ``step``."""
        import orbax.checkpoint as ocp

        manager = manager or self.checkpoint_manager()
        target = jax.tree.map(
            lambda x: jax.ShapeDtypeStruct(np.shape(x), x.dtype, sharding=getattr(x, "sharding", None)),
            abstract_state,
        )
        restored = manager.restore(
            step, args=ocp.args.Composite(state=ocp.args.StandardRestore(target), meta=ocp.args.JsonRestore())
        )
        return restored["state"], dict(restored["meta"])

    def restore_newest_readable(
        self, manager: Any, target: PyTree, purpose: str, set_aside: bool = False
    ) -> tuple[PyTree, dict[str, Any]] | None:
        """Restores the newest checkpoint that reads back, saying which ones it skipped and why.

        With ``set_aside`` (this run's own checkpoints), an unreadable one is renamed ``<step>.unreadable`` rather
        than left in place: the run will reach that step again and must be able to save it, and ``max_to_keep``
        must not delete readable checkpoints to keep a broken one. Nothing is deleted.

        Args:
            manager: The CheckpointManager to read (this run's, or another run's for ``--init-from``).
            target: The state (or abstract state) whose shapes and shardings to restore into.
            purpose: ``resume`` or ``init-from RUN``, for the log lines.
            set_aside: Rename unreadable checkpoints out of the way (only for this run's own).

        Returns:
            The restored state and meta, or None when no checkpoint reads back.
        """
        steps = sorted(manager.all_steps(), reverse=True)
        for step in steps:
            try:
                state, meta = self.restore_checkpoint(step, target, manager)
            except Exception as error:
                aside = self.set_aside_checkpoint(step) if set_aside else None
                where = f"; moved to {aside}" if aside else "; skipping it"
                self.log_message(
                    "warning", f"{purpose}: checkpoint at step {step} is unreadable ({type(error).__name__}){where}"
                )
                continue
            note = "" if step == steps[0] else " (newest readable; newer ones were unreadable)"
            self.log_message("info", f"{purpose}: restored the checkpoint at step {step}{note}")
            return state, meta
        return None

    def resume_checkpoint(self, abstract: PyTree) -> tuple[PyTree, dict[str, Any]] | None:
        """The resume policy: this run's newest readable checkpoint (unreadable ones set aside), or None."""
        return self.restore_newest_readable(self.checkpoint_manager(), abstract, "resume", set_aside=True)

    def init_from_checkpoint(self, run_dir: Path, state: PyTree) -> PyTree:
        """The ``--init-from RUN`` policy: another run's newest readable checkpoint, restored into ``state``.

        Raises:
            FileNotFoundError: That run has no readable checkpoint.
        """
        restored = self.restore_newest_readable(self.open_checkpoint_manager(run_dir), state, f"init-from {run_dir}")
        if restored is None:
            raise FileNotFoundError(f"--init-from {run_dir}: no readable checkpoint")
        return restored[0]

    def close_checkpoints(self) -> None:
        """Finishes any background save and closes the manager (a failure now is reported, never raised)."""
        if self._manager is not None:
            with contextlib.suppress(CheckpointSaveError):
                self.finish_pending_save()
            self._reset_manager()
