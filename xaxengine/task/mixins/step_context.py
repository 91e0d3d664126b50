"""Step context: what user hooks see about the current step, and named timers for the loop's phases."""

import time
from collections import defaultdict
from collections.abc import Generator
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

    _timings: dict[str, float] | None = None

    @contextmanager
    def step_context(self, name: str) -> Generator[None]:
        """Times the enclosed block under ``name``."""
        if self._timings is None:
            self._timings = defaultdict(float)
        timings = self._timings
        start = time.perf_counter()
        try:
            yield
        finally:
            timings[name] += time.perf_counter() - start

    def pop_timings(self) -> dict[str, float]:
        """Returns the accumulated timings and resets them."""
        timings = dict(self._timings or {})
        self._timings = defaultdict(float)
        return timings
