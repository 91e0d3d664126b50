"""App-free curve data: decimation, smoothing, chart options and the gaps of non-finite points."""

import math
import re
from dataclasses import dataclass

import numpy as np

from xaxtui.state import RunState

SMOOTHING = (0.0, 0.6, 0.9, 0.99)
MAX_CHARTS = 4
MAX_GAPS = 64
_EMA_BLOCK = 256
_EMA_MAX_BLOCK = 8192


def decimate_minmax(x: np.ndarray, y: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Reduces a curve to at most ``2 * width`` points keeping each bucket's min and max (spikes survive).

    Args:
        x: Increasing x values.
        y: Values (NaN points are dropped).
        width: Number of buckets, e.g. the plot's width in (sub)pixels.

    Returns:
        ``(x, y)`` in x order; unchanged when already small enough.
    """
    keep = np.isfinite(y)
    if not keep.all():
        x, y = x[keep], y[keep]
    n = len(x)
    if width <= 0 or n <= 2 * width:
        return x, y
    starts = np.linspace(0, n, width + 1).astype(np.int64)[:-1]
    lo = np.minimum.reduceat(y, starts)
    hi = np.maximum.reduceat(y, starts)
    ends = np.append(starts[1:], n) - 1
    rising = y[ends] >= y[starts]
    xs = np.empty(2 * width)
    ys = np.empty(2 * width)
    xs[0::2] = x[starts]
    xs[1::2] = x[ends]
    ys[0::2] = np.where(rising, lo, hi)
    ys[1::2] = np.where(rising, hi, lo)
    return xs, ys


def ema(y: np.ndarray, weight: float) -> np.ndarray:
    """TensorBoard-style debiased exponential moving average, vectorised in blocks.

    Args:
        y: Finite values in order.
        weight: Smoothing in ``[0, 1)``; 0 returns ``y``.

    Returns:
        The smoothed values, same length.
    """
    if weight <= 0 or len(y) == 0:
        return y
    # Blocks as long as 1 / weight**k stays below 1e200 (no overflow for values up to 1e100): few Python steps.
    size = int(min(_EMA_MAX_BLOCK, max(_EMA_BLOCK, 200 / -math.log10(weight))))
    out = np.empty(len(y))
    powers = weight ** np.arange(size, dtype=np.float64)
    prev = 0.0
    done = 0
    for start in range(0, len(y), size):
        block = y[start : start + size]
        p = powers[: len(block)]
        acc = np.cumsum(block / p) * p * (1 - weight)
        acc += prev * p * weight
        out[start : start + len(block)] = acc
        prev = acc[-1]
        done += len(block)
    return out / (1 - weight ** np.arange(1, len(y) + 1, dtype=np.float64))


@dataclass(frozen=True)
class ChartOptions:
    """How the charts are drawn."""

    log_y: bool = False
    x_axis: str = "step"
    smoothing: float = 0.0
    pattern: str = ""
    clip: bool = True
    x_range: tuple[float, float] | None = None

    @property
    def pattern_error(self) -> str:
        """Why the filter is not a valid regex ('' when it is)."""
        try:
            re.compile(self.pattern)
        except re.error as error:
            return str(error)
        return ""

    def matches(self, metric: str) -> bool:
        """Whether a metric passes the filter regex (an invalid regex matches as plain text)."""
        if not self.pattern:
            return True
        try:
            return re.search(self.pattern, metric) is not None
        except re.error:
            return self.pattern in metric


def curve(
    state: RunState,
    metric: str,
    phase: str,
    options: ChartOptions,
    width: int,
    arrays: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """One drawable curve: x axis chosen, smoothed, log-scaled, cut to ``options.x_range``, decimated to ``width``.

    ``arrays`` are the series' ``arrays(options.x_axis, t0=state.first_t)`` when the caller has them already. A zoomed
    curve keeps one point either side of the range, so its line runs to the plot's edges.
    """
    x, y = arrays or state.series[metric, phase].arrays(options.x_axis, t0=state.first_t)
    keep = np.isfinite(y) & np.isfinite(x)
    x, y = x[keep], y[keep]
    if options.smoothing and len(y):
        # The EMA is a weighted mean: computed on values scaled into [-1, 1] it cannot overflow near 1e308.
        top = float(np.abs(y).max())
        scale = top if top > 1e100 else 1.0
        y = np.clip(ema(y / scale, options.smoothing) * scale, -top, top)
    if options.log_y:
        pos = y > 0
        x, y = x[pos], np.log10(y[pos])
    if options.x_range is not None and len(x):
        lo = max(0, int(np.searchsorted(x, options.x_range[0], side="left")) - 1)
        hi = int(np.searchsorted(x, options.x_range[1], side="right")) + 1
        x, y = x[lo:hi], y[lo:hi]
        if len(x) < 2 and not (len(x) and options.x_range[0] <= x[0] <= options.x_range[1]):
            x, y = x[:0], y[:0]  # a lone point outside the range: nothing of this curve is in view
    return decimate_minmax(x, y, width)


def padded(lo: float, hi: float) -> tuple[float, float]:
    """``(lo, hi)``, widened around the value when it is (nearly) a single value."""
    if hi - lo > 1e-9 * max(abs(lo), abs(hi)):
        return lo, hi
    pad = max(abs(lo) * 0.1, 1.0) if lo else 1.0
    return lo - pad, hi + pad


def gap_positions(x: np.ndarray, y: np.ndarray, log_y: bool) -> np.ndarray:
    """The x positions of a curve's points that cannot be drawn: not finite (on a log axis, not positive)."""
    bad = ~(y > 0) if log_y else ~np.isfinite(y)
    if log_y:
        bad |= ~np.isfinite(y)
    if not bad.any():
        return x[:0]
    return x[bad & np.isfinite(x)]


def split_at_gaps(x: np.ndarray, y: np.ndarray, gaps: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """The curve cut where a gap lies between two of its points (joined when there are more than :data:`MAX_GAPS`).

    Args:
        x: Increasing x values of the drawable points.
        y: Their values.
        gaps: x positions of the points that could not be drawn.

    Returns:
        ``(x, y)`` pieces in order.
    """
    if not len(gaps) or len(x) < 2:
        return [(x, y)]
    cuts = np.unique(np.searchsorted(x, gaps))
    cuts = cuts[(cuts > 0) & (cuts < len(x))]
    if len(cuts) > MAX_GAPS:
        return [(x, y)]
    return list(zip(np.split(x, cuts), np.split(y, cuts), strict=True))
