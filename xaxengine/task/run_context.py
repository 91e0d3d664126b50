"""What one run shares while it lives: the loop state pytree and the run context (host-side, mutable).

Before the trainer existed, about fifteen of these were attributes on the task (``step``, ``timer``, ``started``,
``stop_signal``...), where a user's field of the same name silently broke the engine. They live here now, owned
by the :class:`~xaxengine.task.trainer.Trainer`.
"""

import copy
import statistics
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import equinox as eqx
from jaxtyping import Array, PyTree

from xaxengine.launch_config import RunOptions
from xaxengine.task.mixins.process import SignalFlags
from xaxengine.task.mixins.sharding import Placement
from xaxengine.task.mixins.step_context import StepTimer
from xaxengine.task.mixins.train import TrainState


class LoopState(eqx.Module):
    """Everything the jitted train step carries from one step to the next, donated to it as one pytree.

    ``train`` is what checkpoints hold (params, optimizer state, step, key); ``sums`` are the on-device metric
    accumulators since the last train log. The model's static part and the optimizer are static fields: they
    shape the compiled step but never change.
    """

    train: TrainState
    sums: dict[str, Array]
    static: PyTree = eqx.field(static=True)
    optimizer: Any = eqx.field(static=True)

    def with_sums(self, sums: dict[str, Array]) -> "LoopState":
        """This state with other metric sums: a shallow copy with ``sums`` replaced, at every train log.

        The module's ``__init__`` costs 0.1 ms and ``eqx.tree_at`` 0.5 ms here, against 5 us for the copy; the
        frozen field is set the way a dataclass's own ``__init__`` sets it.
        """
        new = copy.copy(self)
        object.__setattr__(new, "sums", sums)
        return new


class StepsInFlight:
    """Bounds how many dispatched steps may still be running on the device (JAX dispatch is asynchronous).

    The host would otherwise run many steps ahead of the device, and a stop signal would land only after all of
    them. :meth:`add` takes each step's "done" token (a small output of the step, not donated onward). Once
    :meth:`depth` are outstanding it waits until the oldest half of them (at least one) finished, so at most
    :meth:`depth` steps run past the one a signal finds.

    Waiting for half the queue at once, rather than for the oldest step after every dispatch, matters on a small
    host: a wait on the device costs the main thread 80-120 us of CPU (the runtime spins before it sleeps), whatever
    its length, and on 2 cores that is time the device's own threads lose. At the default depth of 16 a 2 ms step
    waits once per 8 steps instead of at every one. The steps finish in order (each takes the previous one's donated
    state), so a newer step done means the older ones are.

    The depth follows the pace: as many steps as take ``ahead_s`` seconds, at least 2 and at most ``limit``, with
    the pace measured where the loop waits (the seconds between two waits over the steps dispatched between them,
    the median of :attr:`SAMPLES` such intervals). Short, dispatch-bound steps need a deep queue to keep the device
    busy, and a stop behind 8 of them is still a few milliseconds; long steps gain nothing from a queue, and a stop
    behind 8 of them would wait 8 whole steps. Until the pace is known the depth is 2 (``limit`` if ``ahead_s`` is
    0: then the depth is always ``limit``).
    """

    SAMPLES = 16  # intervals in the pace's median; re-estimated every SAMPLES waits

    def __init__(self, limit: int, ahead_s: float = 0.0, clock: Callable[[], float] = time.perf_counter) -> None:
        """``limit``: ``train.max_steps_in_flight`` (>= 1); ``ahead_s``: ``train.dispatch_ahead_s`` (0: ``limit``)."""
        self.limit = limit
        self.ahead_s = ahead_s
        self.clock = clock
        self.tokens: deque[Any] = deque()
        self.step_s: float | None = None
        self._intervals: list[float] = []
        self._last: float | None = None
        self._since_wait = 0
        self._depth = limit if ahead_s <= 0 else min(limit, 2)

    def depth(self) -> int:
        """How many dispatched steps may be outstanding before the next dispatch waits."""
        return self._depth

    def add(self, token: Any) -> None:
        """Records a dispatched step; once :meth:`depth` are outstanding, blocks until the oldest half finished."""
        self.tokens.append(token)
        self._since_wait += 1
        if len(self.tokens) < self._depth:
            return
        keep = self._depth - max(1, self._depth // 2)
        while len(self.tokens) > keep + 1:  # more than half when the pace just shrank the depth
            self.tokens.popleft()  # older than the one waited for: done when it is
        self.tokens.popleft().block_until_ready()
        if self.ahead_s > 0:
            self._pace()

    def _pace(self) -> None:
        now = self.clock()
        if self._last is not None:
            self._intervals.append((now - self._last) / self._since_wait)
        self._last, self._since_wait = now, 0
        if len(self._intervals) >= self.SAMPLES:  # a median shrugs off a validation or checkpoint between waits
            self.step_s = statistics.median(self._intervals)
            self._intervals.clear()
            fits = int(self.ahead_s / self.step_s + 1e-9) if self.step_s > 0 else self.limit
            self._depth = max(min(self.limit, 2), min(self.limit, fits))


@dataclass
class RunContext:
    """Host-side state of one run, shared by the trainer, its hooks and its services.

    Attributes:
        options: How the run was started (events to stdout, resume, init-from).
        placement: Where arrays live (devices, mesh, shardings).
        step: The step the host has dispatched up to (the device may be behind it).
        started: ``time.monotonic()`` when the run started.
        signals: Stop and checkpoint requests from signal handlers.
        timer: The step-time breakdown of the current interval.
        compile_s: The train step's compile seconds, until the first timing event reports them.
        step_flops: FLOPs of one train step per device (XLA's cost analysis), when known.
        peak_flops: Peak FLOP/s of one device, when known.
        metrics: The latest logged means by ``phase/name`` (``train/loss``, ``valid/accuracy``), for hooks.
    """

    options: RunOptions
    placement: Placement = field(default_factory=Placement)
    step: int = 0
    started: float = field(default_factory=time.monotonic)
    signals: SignalFlags = field(default_factory=SignalFlags)
    timer: StepTimer = field(default_factory=lambda: StepTimer(0))
    compile_s: float | None = None
    step_flops: float | None = None
    peak_flops: float | None = None
    metrics: dict[str, float] = field(default_factory=dict)

    def elapsed(self) -> float:
        """Seconds since the run started."""
        return time.monotonic() - self.started

    def remember(self, phase: str, means: dict[str, float]) -> None:
        """Records a phase's latest logged means under ``phase/name``."""
        self.metrics.update({f"{phase}/{name}": value for name, value in means.items()})
