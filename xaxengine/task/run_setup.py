"""A run's start: the initial state, the ``run_start`` event, the disk check and quiet background errors.

The initial state is fresh, resumed from the newest readable checkpoint, or another run's weights
(``--init-from``); background threads' exceptions go to the run's log while the run lives.
"""

import logging
import shutil
import sys
import threading
from typing import Any

import jax

from xaxengine.config import config_to_dict
from xaxengine.launch_config import RunOptions
from xaxengine.protocol import Kind
from xaxengine.task.mixins.custom_step import CustomStepMixin
from xaxengine.task.mixins.process import process_info
from xaxengine.task.mixins.sharding import Placement
from xaxengine.task.mixins.supervised import SupervisedMixin
from xaxengine.task.mixins.train import TrainState, init_opt_state
from xaxengine.task.mixins.train_step import initial_ema

logger = logging.getLogger("xaxengine")

TrainableTask = SupervisedMixin[Any] | CustomStepMixin[Any]


class QuietBackgroundErrors:
    """Routes exceptions of background threads to the run's log file while a run lives.

    Orbax's saver threads leave tracebacks behind a failed write; the engine reports the failure itself, in one line.
    """

    def __init__(self) -> None:
        """Installs the hooks; :meth:`restore` puts the previous ones back."""
        self.thread_hook, self.unraisable_hook = threading.excepthook, sys.unraisablehook
        threading.excepthook = self._thread
        sys.unraisablehook = self._unraisable

    @staticmethod
    def _thread(args: threading.ExceptHookArgs) -> None:
        name = args.thread.name if args.thread else "?"
        logger.debug("exception in thread %s: %s: %s", name, args.exc_type.__name__, args.exc_value)

    @staticmethod
    def _unraisable(args: Any) -> None:
        logger.debug("unraisable exception: %s", args.exc_value)

    def restore(self) -> None:
        """Puts the hooks that were installed before back."""
        threading.excepthook, sys.unraisablehook = self.thread_hook, self.unraisable_hook


def initial_state(
    task: TrainableTask, options: RunOptions, placement: Placement
) -> tuple[TrainState, Any, Any, dict[str, Any], int | None]:
    """Fresh state, or the newest readable checkpoint (resume), or another run's weights (init-from).

    Returns:
        The state, the model's static part, the optimizer, the loader state, and the restored step (resume).
    """
    if options.resume_dir is not None:
        abstract, static, optimizer = task.init_state(abstract=True)
        restored = task.resume_checkpoint(placement.shard_abstract(abstract))
        if restored is not None:
            state, meta = restored
            return state, static, optimizer, dict(meta.get("loader", {})), int(meta.get("step", state.step))
        task.log_message("warning", "no checkpoint to resume from; starting from step 0")
    state, static, optimizer = task.init_state()
    if options.init_from is not None:
        params = task.init_from_checkpoint(options.init_from, state).params
        state = TrainState(
            step=state.step,
            params=params,
            opt_state=init_opt_state(optimizer, params),
            key=state.key,
            ema=initial_ema(params, task.config.train.ema_decay),
        )
    return state, static, optimizer, {}, None


def emit_run_start(task: Any, layout: str, devices: list[Any], max_steps: int | None, resumed: int | None) -> None:
    """The first event after ``starting`` (a training run's or a Script's); ``resumed`` is the restored step."""
    task.bus.emit(
        Kind.RUN_START,
        run_id=task.run_dir.name,
        task=task.task_spec(),
        run_dir=str(task.run_dir),
        config=config_to_dict(task.config),
        layout=layout,
        devices=[str(d) for d in devices],
        max_steps=max_steps,
        resumed_from_step=resumed,
        **process_info(),
    )


def warn_if_disk_is_low(task: TrainableTask, state: TrainState) -> None:
    """Warns, with the numbers, when the run dir's disk cannot hold the checkpoints this run keeps."""
    ckpt = task.config.checkpoint
    if not (ckpt.save_every_n_steps or ckpt.save_every_n_seconds):
        return
    state_bytes = sum(x.size * x.dtype.itemsize for x in jax.tree.leaves(state) if hasattr(x, "dtype"))
    needed = state_bytes * (ckpt.max_to_keep + 1)  # the kept ones plus the one being written
    free = shutil.disk_usage(task.run_dir).free
    if free < needed:
        task.log_message(
            "warning",
            f"{task.run_dir}: {free / 2**20:.1f} MB free, but {ckpt.max_to_keep} kept checkpoints plus one "
            f"being written need about {needed / 2**20:.1f} MB ({state_bytes / 2**20:.1f} MB each); saves may fail",
        )
