"""The train log: fetches the window's on-device metric sums, logs their means and the step-time breakdown.

It is the one place the loop waits for the device on purpose (the fetch), and where non-finite steps are caught
before anything is logged or saved.
"""

from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import numpy as np

from xaxengine.protocol import TIMING_PHASE
from xaxengine.task.mixins.supervised import non_scalar, summarize, zero_sums
from xaxengine.task.run_context import LoopState, RunContext
from xaxengine.task.run_setup import TrainableTask


class EventWriteError(OSError):
    """The events file stopped taking lines (full disk, read-only file system): the run ends failed."""


class NonFiniteLossError(RuntimeError):
    """Raised when the loss or gradients became non-finite under ``nan_policy = "stop"``."""

    def __init__(self, first_bad_step: int) -> None:
        """Names the first bad step; the last good one is the step before it."""
        super().__init__(f"non-finite loss or gradient at step {first_bad_step} (nan_policy=stop)")
        self.last_good_step = first_bad_step - 1


class TrainLog:
    """Logs one window of training: the means since the last log, the breakdown, the non-scalar metrics."""

    def __init__(self, task: TrainableTask, ctx: RunContext, clock: Callable[[], float]) -> None:
        """Binds the log to the run: its task (loggers), context (timer, placement) and host clock."""
        self.task, self.ctx, self.clock = task, ctx, clock
        self.config = task.config

    def __call__(self, step: int, loop: LoopState) -> LoopState:
        """Fetches and logs the window's train means, then the step-time breakdown of the interval it closes.

        The fetch waits for the steps still queued on the device, so its time counts as step time.

        Returns:
            The loop state with fresh (zero) metric sums.

        Raises:
            EventWriteError: The events file stopped taking lines.
            NonFiniteLossError: A non-finite step under ``nan_policy = "stop"``.
        """
        ctx, timer, clock, task = self.ctx, self.ctx.timer, self.clock, self.task
        t0 = clock()
        if (broken := task.bus.writer.file_error) is not None:
            raise EventWriteError(f"cannot write events to {broken}")
        fetched = jax.device_get(loop.sums)
        t1 = clock()
        timer.seconds["step"] += t1 - t0
        means, nonfinite, first_bad = summarize(fetched)
        if nonfinite and self.config.train.nan_policy == "stop":
            raise NonFiniteLossError(first_bad + 1)
        timer.seconds["log"] += clock() - t1
        timing = timer.interval(step, self.config.data.batch_size)
        t2 = clock()
        if nonfinite:
            task.log_message("warning", f"skipped {nonfinite} non-finite update(s), first at step {first_bad + 1}")
        task.log_scalars(
            step,
            "train",
            means,
            steps_per_s=timing["steps_per_s"],
            samples_per_s=timing["samples_per_s"],
            elapsed_s=ctx.elapsed(),
        )
        ctx.remember("train", means)
        if self.config.profile.timing:
            task.log_scalars(step, TIMING_PHASE, self.timing_values(timing))
        for name, values in non_scalar(fetched).items():
            task.log_histogram(step, f"train/{name}", values)
        fresh = ctx.placement.replicate(zero_sums({name: np.shape(v) for name, v in fetched.items()}))
        loop = eqx.tree_at(lambda state: state.sums, loop, fresh)
        timer.seconds["log"] += clock() - t2
        if not ctx.placement.multi_process:  # saves finish in lockstep on every process otherwise
            with timer.phase("checkpoint"):
                task.poll_pending_save()
        return loop

    def timing_values(self, timing: dict[str, Any]) -> dict[str, Any]:
        """The interval's breakdown, plus ``compile_s`` (first interval only) and ``mfu`` (FLOPs and peak known)."""
        values, ctx = dict(timing), self.ctx
        if ctx.compile_s is not None:
            values["compile_s"], ctx.compile_s = ctx.compile_s, None
        if ctx.step_flops and ctx.peak_flops:
            values["mfu"] = ctx.step_flops * timing["steps_per_s"] / ctx.peak_flops
        return values
