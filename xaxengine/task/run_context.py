"""What one run shares while it lives: the loop state pytree and the run context (host-side, mutable).

Before the trainer existed, about fifteen of these were attributes on the task (``step``, ``timer``, ``started``,
``stop_signal``...), where a user's field of the same name silently broke the engine. They live here now, owned
by the :class:`~xaxengine.task.trainer.Trainer`.
"""

import time
from collections import deque
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


class StepsInFlight:
    """Bounds how many dispatched steps may still be running on the device (JAX dispatch is asynchronous).

    The host would otherwise run many steps ahead of the device, and a stop signal would land only after all of
    them. :meth:`add` takes each step's "done" token (a small output of the step, not donated onward) and, once
    ``limit`` are outstanding, waits for the oldest, so at most ``limit`` steps run past the one a signal finds.
    """

    def __init__(self, limit: int) -> None:
        """``limit`` is ``train.max_steps_in_flight`` (>= 1)."""
        self.limit = limit
        self.tokens: deque[Any] = deque()

    def add(self, token: Any) -> None:
        """Records a dispatched step; blocks until the oldest finished when ``limit`` are outstanding."""
        self.tokens.append(token)
        if len(self.tokens) >= self.limit:
            self.tokens.popleft().block_until_ready()


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
