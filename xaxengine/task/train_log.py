"""The train log: fetches the window's on-device metric sums, logs their means and the step-time breakdown.

It is the one place the loop waits for the device on purpose (the fetch), and where non-finite steps are caught
before anything is logged or saved.
"""

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from xaxengine.protocol import TIMING_PHASE
from xaxengine.task.mixins.sharding import Placement
from xaxengine.task.mixins.supervised import Metrics, non_scalar, summarize, zero_sums
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


class SumsTransfer:
    """Moves the train metric sums across at each train log: one compiled call and one transfer each way.

    ``jax.device_get`` of 7 sums takes 65 us of the main thread and making 7 fresh zero arrays 180 us (measured
    alone; a few times that on a host whose cores the device's threads keep busy). Stacking the scalars on the
    device and fetching one array takes 20 us, and the zeros from one compiled call 12 us.
    """

    def __init__(self, placement: Placement) -> None:
        """Binds the transfers to the run's placement (fresh zeros land replicated on every device)."""
        self.placement = placement
        self._scalars: tuple[str, ...] | None = None
        self._stack: Any = None
        self._zeros: Any = None

    def send(self, sums: Metrics) -> "SumsInTransit":
        """Starts copying ``sums`` to the host; :meth:`SumsInTransit.receive` waits for them."""
        scalars = tuple(name for name, value in sums.items() if not value.shape)
        if scalars != self._scalars:
            self._scalars = scalars
            self._stack = jax.jit(lambda sums: jnp.stack([sums[name].astype(jnp.float32) for name in scalars]))
        stacked = self._stack(sums)
        others = {name: value for name, value in sums.items() if value.shape}
        for value in (stacked, *others.values()):
            value.copy_to_host_async()
        return SumsInTransit(scalars, stacked, others)

    def compile(self, like: Metrics) -> None:
        """Compiles both transfers for sums shaped like ``like``, so that the first window does not pay for it.

        The two compiles take 50-60 ms on a 2-core host, about 1% of a 5 s run of a small MLP, all of it inside
        the first interval's rate if they ran at the first log.
        """
        self.send(like).receive()
        self.fresh(like)

    def fresh(self, like: Metrics) -> Metrics:
        """Zero sums shaped like ``like``, on the devices, to start the next window."""
        if self._zeros is None:
            shapes = {name: tuple(np.shape(value)) for name, value in like.items()}
            self._zeros = self.placement.replicated_fn(lambda: jax.tree.map(jnp.asarray, zero_sums(shapes)))
        return self._zeros()


class SumsInTransit:
    """A window's sums on their way to the host (:meth:`SumsTransfer.send`)."""

    def __init__(self, scalars: tuple[str, ...], stacked: jax.Array, others: Metrics) -> None:
        """The scalar sums stacked in ``stacked`` (in ``scalars``' order) and the non-scalar ones."""
        self.scalars, self.stacked, self.others = scalars, stacked, others

    def receive(self) -> dict[str, np.ndarray]:
        """The sums on the host, by name."""
        fetched = dict(zip(self.scalars, np.asarray(self.stacked), strict=True))
        fetched.update({name: np.asarray(value) for name, value in self.others.items()})
        return fetched


class PendingLog:
    """A train log whose window has ended (fresh sums swapped in) but is not received or written yet."""

    def __init__(self, step: int, sums: SumsInTransit) -> None:
        """The window's last step and its sums in transit."""
        self.step, self.sums = step, sums


class TrainLog:
    """Logs one window of training: the means since the last log, the breakdown, the non-scalar metrics.

    A log has two halves. :meth:`start` ends the window (fresh sums into the loop state, the window's sums on their
    way to the host) without waiting for the device; :meth:`finish` waits for the sums, closes the breakdown's
    interval and writes the events. Calling the log runs both at once. The trainer may instead run :meth:`finish`
    after it dispatched the next step, so the device keeps working while the host writes the log (see
    ``Trainer._loop``). The interval closes when the sums arrive, when the device has finished the window's last
    step: closed at that step's dispatch, it would be off by the steps still in flight (up to
    ``train.dispatch_ahead_s`` of device work), a large share of a short interval's rate.
    """

    def __init__(self, task: TrainableTask, ctx: RunContext, clock: Callable[[], float]) -> None:
        """Binds the log to the run: its task (loggers), context (timer, placement) and host clock."""
        self.task, self.ctx, self.clock = task, ctx, clock
        self.config = task.config
        self.sums = SumsTransfer(ctx.placement)

    def __call__(self, step: int, loop: LoopState) -> LoopState:
        """Fetches and logs the window's train means and the step-time breakdown of the interval it closes.

        Returns:
            The loop state with fresh (zero) metric sums.

        Raises:
            EventWriteError: The events file stopped taking lines.
            NonFiniteLossError: A non-finite step under ``nan_policy = "stop"``.
        """
        loop, pending = self.start(step, loop)
        self.finish(pending)
        return loop

    def start(self, step: int, loop: LoopState) -> tuple[LoopState, PendingLog]:
        """Ends the window at ``step``: returns the loop state with fresh sums and the log to :meth:`finish`.

        Raises:
            EventWriteError: The events file stopped taking lines.
        """
        if (broken := self.task.bus.writer.file_error) is not None:
            raise EventWriteError(f"cannot write events to {broken}")
        t0 = self.clock()
        sums = self.sums.send(loop.sums)
        loop = loop.with_sums(self.sums.fresh(loop.sums))
        timer = self.ctx.timer
        timer.seconds["log"] += self.clock() - t0
        return loop, PendingLog(step, sums)

    def finish(self, pending: PendingLog) -> None:
        """Waits for the window's sums, closes the interval and writes its events; the wait counts as step time.

        Raises:
            NonFiniteLossError: A non-finite step under ``nan_policy = "stop"``.
        """
        ctx, timer, clock, task = self.ctx, self.ctx.timer, self.clock, self.task
        step = pending.step
        t0 = clock()
        fetched = pending.sums.receive()
        t1 = clock()
        timer.seconds["step"] += t1 - t0
        timing = timer.interval(step, self.config.data.batch_size)
        means, nonfinite, first_bad = summarize(fetched)
        if nonfinite and self.config.train.nan_policy == "stop":
            raise NonFiniteLossError(first_bad + 1)
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
        timer.seconds["log"] += clock() - t1
        if not ctx.placement.multi_process:  # saves finish in lockstep on every process otherwise
            with timer.phase("checkpoint"):
                task.poll_pending_save()

    def timing_values(self, timing: dict[str, Any]) -> dict[str, Any]:
        """The interval's breakdown, plus ``compile_s`` (first interval only) and ``mfu`` (FLOPs and peak known)."""
        values, ctx = dict(timing), self.ctx
        if ctx.compile_s is not None:
            values["compile_s"], ctx.compile_s = ctx.compile_s, None
        if ctx.step_flops and ctx.peak_flops:
            values["mfu"] = ctx.step_flops * timing["steps_per_s"] / ctx.peak_flops
        return values
