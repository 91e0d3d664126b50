"""Step context: what user hooks see about the current step, and the timer that splits loop time into phases."""

import time
from collections.abc import Generator
from contextlib import contextmanager

import equinox as eqx
from jaxtyping import Array, Int

from xaxengine.protocol import TIMING_FRACTIONS


class StepState(eqx.Module):
    """Passed to ``get_output``, ``compute_loss`` and ``compute_metrics``: the step (traced) and phase (static)."""

    step: Int[Array, ""]
    phase: str = eqx.field(static=True)


class StepTimer:
    """Splits the wall time between two train logs into the loop's phases (host clocks only).

    The device runs ahead of the Python loop (async dispatch), so device time shows up where the host waits for
    it: in the step call once the dispatch queue is full, and in the metrics fetch at each log. The loop counts
    both as ``step``; ``data`` is the host time spent producing the batch; ``log``, ``valid`` and ``checkpoint``
    are timed around those blocks, and ``profile`` around starting and stopping a profiler trace. No device sync is
    added.
    """

    PHASES = tuple(TIMING_FRACTIONS)

    def __init__(self, step: int) -> None:
        self.seconds = dict.fromkeys(self.PHASES, 0.0)
        self.start = time.perf_counter()
        self.start_step = step

    @contextmanager
    def phase(self, name: str) -> Generator[None]:
        """Times the enclosed block as phase ``name`` (``valid``, ``checkpoint``, ``log``, ``profile``...)."""
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] += time.perf_counter() - start

    def add(self, data_s: float, step_s: float) -> None:
        """Adds the per-step host seconds the loop accumulated in locals."""
        self.seconds["data"] += data_s
        self.seconds["step"] += step_s

    def interval(self, step: int, batch_size: int) -> dict[str, float]:
        """The breakdown since the last call (or construction); then starts a new interval at ``step``.

        Returns:
            ``interval_s``, ``steps``, ``steps_per_s``, ``samples_per_s``, ``step_ms`` (step seconds per step, in
            ms), ``data_wait_frac``, ``step_frac``, ``log_frac``, ``valid_frac``, ``checkpoint_frac``,
            ``profile_frac`` and ``other_frac`` (the rest of the wall time: loop bookkeeping, never negative).
        """
        now = time.perf_counter()
        wall = max(now - self.start, 1e-9)
        seconds, steps = self.seconds, step - self.start_step
        values = {
            "interval_s": wall,
            "steps": float(steps),
            "steps_per_s": steps / wall,
            "samples_per_s": steps * batch_size / wall,
            "step_ms": 1e3 * seconds["step"] / steps if steps else 0.0,
        }
        values.update({TIMING_FRACTIONS[phase]: seconds[phase] / wall for phase in self.PHASES})
        values["other_frac"] = max(0.0, 1.0 - sum(seconds.values()) / wall)
        self.seconds = dict.fromkeys(self.PHASES, 0.0)
        self.start, self.start_step = now, step
        return values
