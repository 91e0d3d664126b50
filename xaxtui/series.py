"""One metric's curve, bounded: the most recent points at full resolution, older ones as min/max buckets (no textual).

A million points fold into a few thousand: past ``recent`` points, each ``bucket`` of older points becomes its
minimum and maximum (so a spike is never averaged away), and when there are more than ``max_buckets`` buckets
neighbours merge and the bucket width doubles.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy is imported on first use: the picker's first paint needs no numpy (70 ms)
    import numpy as np

RECENT_POINTS = 4096
MAX_BUCKETS = 2048


@dataclass
class Series:
    """One metric in one phase: recent points at full resolution, older ones as min/max buckets.

    Attributes:
        steps: Steps of the recent points.
        times: Wall times of the recent points.
        values: Values of the recent points (NaN for non-finite).
        old_steps: First step of each bucket of older points.
        old_times: First wall time of each bucket.
        old_min: Minimum of each bucket.
        old_max: Maximum of each bucket.
        bucket: Points per bucket.
        recent: How many recent points are kept before older ones are bucketed.
        max_buckets: How many buckets are kept before neighbours are merged.
    """

    steps: list[float] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    old_steps: list[float] = field(default_factory=list)
    old_times: list[float] = field(default_factory=list)
    old_min: list[float] = field(default_factory=list)
    old_max: list[float] = field(default_factory=list)
    bucket: int = 16
    recent: int = RECENT_POINTS
    max_buckets: int = MAX_BUCKETS

    def __len__(self) -> int:
        return len(self.steps) + 2 * len(self.old_steps)

    @property
    def last_step(self) -> float:
        """Step of the most recent point, or the first step of the newest bucket (-inf when empty)."""
        if self.steps:
            return self.steps[-1]
        return self.old_steps[-1] if self.old_steps else -math.inf

    def truncate(self, step: float) -> None:
        """Drops every point at ``step`` or later (a resumed run logs those steps again).

        Recent points are cut exactly. Buckets that start at ``step`` or later are dropped; a bucket that starts
        before ``step`` but spans it is kept whole (its min/max may still include a few dropped points).

        Args:
            step: The first step to forget.
        """
        cut = bisect_left(self.steps, step)
        if cut < len(self.steps):
            del self.steps[cut:], self.times[cut:], self.values[cut:]
        if self.steps or not self.old_steps:
            return
        cut = bisect_left(self.old_steps, step)
        if cut < len(self.old_steps):
            del self.old_steps[cut:], self.old_times[cut:], self.old_min[cut:], self.old_max[cut:]

    def compact(self) -> None:
        """Moves all but the most recent ``recent`` points into min/max buckets."""
        import numpy as np

        n = len(self.steps) - self.recent
        n -= n % self.bucket
        if n <= 0:
            return
        vals = np.asarray(self.values[:n], dtype=np.float64).reshape(-1, self.bucket)
        self.old_steps.extend(self.steps[: n : self.bucket])
        self.old_times.extend(self.times[: n : self.bucket])
        self.old_min.extend(np.nanmin(np.where(np.isnan(vals), np.inf, vals), axis=1).tolist())
        self.old_max.extend(np.nanmax(np.where(np.isnan(vals), -np.inf, vals), axis=1).tolist())
        del self.steps[:n], self.times[:n], self.values[:n]
        while len(self.old_steps) > self.max_buckets:
            self._merge_buckets()

    def _merge_buckets(self) -> None:
        m = len(self.old_steps) // 2 * 2
        lo, hi = self.old_min[:m], self.old_max[:m]
        merged_min = [min(a, b) for a, b in zip(lo[::2], lo[1::2], strict=True)] + self.old_min[m:]
        merged_max = [max(a, b) for a, b in zip(hi[::2], hi[1::2], strict=True)] + self.old_max[m:]
        self.old_steps = self.old_steps[:m:2] + self.old_steps[m:]
        self.old_times = self.old_times[:m:2] + self.old_times[m:]
        self.old_min, self.old_max = merged_min, merged_max
        self.bucket *= 2

    def arrays(self, x: str = "step", t0: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        """Returns the whole curve as float arrays; each bucket becomes a (min, max) pair at its first x.

        Args:
            x: ``"step"`` or ``"time"`` (seconds since ``t0``).
            t0: Origin of the time axis.

        Returns:
            ``(xs, ys)`` with infinite bucket bounds (all-NaN buckets) turned into NaN.
        """
        import numpy as np

        old_x = self.old_steps if x == "step" else self.old_times
        new_x = self.steps if x == "step" else self.times
        xs = np.empty(2 * len(old_x) + len(new_x))
        ys = np.empty_like(xs)
        k = 2 * len(old_x)
        xs[0:k:2] = old_x
        xs[1:k:2] = old_x
        ys[0:k:2] = self.old_min
        ys[1:k:2] = self.old_max
        xs[k:] = new_x
        ys[k:] = self.values
        ys[~np.isfinite(ys)] = np.nan
        if x == "time":
            xs -= t0
        return xs, ys
