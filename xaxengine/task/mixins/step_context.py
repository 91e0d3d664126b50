"""Step context: what user hooks see about the current step, and named timers for the loop's phases."""

import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager

import equinox as eqx
from jaxtyping import Array, Int

from xaxengine.task.mixins.base import BaseTask


class StepState(eqx.Module):
    """Passed to ``get_output``, ``compute_loss`` and ``compute_metrics``: the step (traced) and phase (static)."""

    step: Int[Array, ""]
    phase: str = eqx.field(static=True)


class StepContextMixin[ConfigT](BaseTask[ConfigT]):
    """Accumulates wall time per named phase of the loop (data, step, valid, checkpoint, log)."""

    _timings: dict[str, float]

    @contextmanager
    def step_context(self, name: str) -> Iterator[None]:
        """Times the enclosed block under ``name``."""
        if not hasattr(self, "_timings"):
            self._timings = defaultdict(float)
        start = time.perf_counter()
        try:
            yield
        finally:
            self._timings[name] += time.perf_counter() - start

    def pop_timings(self) -> dict[str, float]:
        """Returns the accumulated timings and resets them."""
        timings = dict(getattr(self, "_timings", {}))
        self._timings = defaultdict(float)
        return timings
