"""Ending a run early and keeping its best weights, as hooks in the trainer's registry.

- :class:`EarlyStop` (``[train.early_stop]``): after each validation, counts validations without an improvement of
  ``metric`` by more than ``min_delta``; after ``patience`` of them it asks the trainer to finish (reason
  ``early_stop``).
- :func:`time_budget_hook` (``train.max_seconds``): a hook by seconds that asks the trainer to finish (reason
  ``max_seconds``) once the wall-clock budget is spent.
- :class:`BestCheckpoint` (``checkpoint.keep_best``): after each validation that improves ``metric``, saves the train
  state to ``RUN_DIR/best_checkpoint`` (one kept), beside the last ``max_to_keep`` checkpoints.

A finish request is a flag the trainer reads after the hooks of a step ran (``FinishRequest``); the run then saves a
checkpoint and ends ``finished`` with the reason. With ``steps_per_call > 1`` it lands at the call boundary.
"""

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xaxengine.runs import BEST_CHECKPOINT_DIR
from xaxengine.task.mixins.hooks import Hook


@dataclass
class FinishRequest:
    """Set by a hook that wants the run to end ``finished``; read by the trainer after the step's hooks."""

    reason: str | None = None


def improved(value: float, best: float | None, mode: str, min_delta: float = 0.0) -> bool:
    """Whether ``value`` beats ``best`` by more than ``min_delta`` (``mode`` "max" or "min"); NaN never does."""
    if math.isnan(value):
        return False
    if best is None:
        return True
    return value > best + min_delta if mode == "max" else value < best - min_delta


@dataclass
class EarlyStop:
    """Counts validations since ``metric`` last improved and requests a finish after ``patience`` of them."""

    metric: str
    mode: str
    patience: int
    min_delta: float
    request: FinishRequest
    best: float | None = None
    bad: int = 0

    def __call__(self, step: int, model: Any, metrics: Mapping[str, float]) -> None:
        """Runs after validation (same cadence), reading the metric from the latest logged values."""
        del step, model
        if self.metric not in metrics:
            return
        value = metrics[self.metric]
        if improved(value, self.best, self.mode, self.min_delta):
            self.best, self.bad = value, 0
            return
        self.bad += 1
        if self.bad >= self.patience:
            self.request.reason = "early_stop"


def time_budget_hook(max_seconds: float, request: FinishRequest) -> Hook:
    """A hook due once ``max_seconds`` passed since training started; it requests a finish."""

    def spent(step: int, model: Any, metrics: Mapping[str, float]) -> None:
        del step, model, metrics
        request.reason = "max_seconds"

    return Hook(spent, every_n_seconds=max_seconds, name="train.max_seconds")


@dataclass
class BestCheckpoint:
    """Saves the train state whenever ``metric`` improves; the newest best replaces the previous one."""

    run_dir: Path
    metric: str
    mode: str
    state: Callable[[], tuple[Any, dict[str, Any]]]  # the current train state and checkpoint meta
    async_save: bool = True
    best: float | None = None
    _manager: Any = None

    @property
    def directory(self) -> Path:
        """``RUN_DIR/best_checkpoint``."""
        return self.run_dir / BEST_CHECKPOINT_DIR

    def __call__(self, step: int, model: Any, metrics: Mapping[str, float]) -> None:
        """Runs after validation; saves when the metric improved."""
        del model
        if self.metric not in metrics or not improved(metrics[self.metric], self.best, self.mode):
            return
        import orbax.checkpoint as ocp

        self.best = metrics[self.metric]
        if self._manager is None:
            options = ocp.CheckpointManagerOptions(
                max_to_keep=1, enable_async_checkpointing=self.async_save, create=True
            )
            self._manager = ocp.CheckpointManager(self.directory.resolve(), options=options)
        self._manager.wait_until_finished()
        state, meta = self.state()
        meta = {"step": step, **meta, "best": {"metric": self.metric, "mode": self.mode, "value": self.best}}
        self._manager.save(
            step, args=ocp.args.Composite(state=ocp.args.StandardSave(state), meta=ocp.args.JsonSave(meta))
        )

    def close(self) -> None:
        """Waits for the last save and closes the manager."""
        if self._manager is not None:
            self._manager.wait_until_finished()
            self._manager.close()
            self._manager = None
