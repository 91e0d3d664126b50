"""App-free view geometry of a chart: robust y clipping, zoom and pan of the x range, the cursor, the legend corner.

Plain numpy (no jaxtyping: the TUI installs without the engine's dependencies); arrays are 1-D float.
"""

import math

import numpy as np

CLIP_PERCENTILES = (1.0, 99.0)
CLIP_MIN_RATIO = 10.0  # clip only when the full range is this many times wider than the robust one
CLIP_EXTEND = 0.1  # the robust range is extended by this fraction of itself on each side
ZOOM_FACTOR = 2.0
MIN_SPAN_POINTS = 4.0  # zooming in stops at a range this many x units wide (a few steps)
CORNERS = ("top right", "bottom right", "top left", "bottom left")


def robust_range(ys: list[np.ndarray]) -> tuple[float, float] | None:
    """The y range to clip to when a few points would squash the rest: percentiles of the finite values, extended.

    Args:
        ys: The values of every curve on the chart (any values; non-finite ones are ignored).

    Returns:
        ``(lo, hi)`` when the full range is more than :data:`CLIP_MIN_RATIO` times the robust one, else ``None``.
    """
    finite = [y[np.isfinite(y)] for y in ys]
    values = np.concatenate(finite) if finite else np.empty(0)
    if len(values) < 10:
        return None
    # Scaled into [-1, 1] first so the percentile arithmetic cannot overflow near 1e308.
    scale = float(np.abs(values).max()) or 1.0
    lo, hi = (float(v) * scale for v in np.percentile(values / scale, CLIP_PERCENTILES))
    full_lo, full_hi = float(values.min()), float(values.max())
    robust = hi - lo
    full = full_hi / 2 - full_lo / 2  # halves: no overflow for a range spanning -1e308..1e308
    if not (math.isfinite(robust) and math.isfinite(full)) or full <= 0:
        return None
    if robust <= 0:
        robust = max(abs(hi), 1e-300)
    if full * 2 <= CLIP_MIN_RATIO * robust:
        return None
    pad = robust * CLIP_EXTEND
    return max(full_lo, lo - pad), min(full_hi, hi + pad)


def zoom(view: tuple[float, float], bounds: tuple[float, float], cursor: float, factor: float) -> tuple[float, float]:
    """The x range ``view`` zoomed by ``factor`` (> 1: in) around ``cursor``, kept inside ``bounds``."""
    lo, hi = view
    span = hi - lo
    full = bounds[1] - bounds[0]
    new_span = min(full, max(span / factor, min(MIN_SPAN_POINTS, full)))
    if new_span <= 0 or not math.isfinite(new_span):
        return bounds
    share = (cursor - lo) / span if span > 0 else 0.5
    new_lo = cursor - share * new_span
    return shift((new_lo, new_lo + new_span), bounds, 0.0)


def shift(view: tuple[float, float], bounds: tuple[float, float], by: float) -> tuple[float, float]:
    """``view`` moved by ``by`` x units, without leaving ``bounds`` (its width kept)."""
    lo, hi = view[0] + by, view[1] + by
    if lo < bounds[0]:
        lo, hi = bounds[0], bounds[0] + (hi - lo)
    if hi > bounds[1]:
        lo, hi = max(bounds[0], bounds[1] - (hi - lo)), bounds[1]
    return lo, hi


def nearest(x: np.ndarray, y: np.ndarray, at: float) -> tuple[float, float] | None:
    """The finite point of a series nearest to ``at`` on the x axis (``None`` when it has none)."""
    keep = np.isfinite(x) & np.isfinite(y)
    if not keep.any():
        return None
    x, y = x[keep], y[keep]
    i = int(np.argmin(np.abs(x - at)))
    return float(x[i]), float(y[i])


def legend_corner(
    curves: list[tuple[np.ndarray, np.ndarray]],
    limits: tuple[float, float, float, float],
    box: tuple[float, float],
) -> str:
    """The corner of :data:`CORNERS` whose legend box covers the fewest points, never the newest data if avoidable.

    Args:
        curves: The drawn ``(x, y)`` of every curve.
        limits: ``(x_lo, x_hi, y_lo, y_hi)`` of the axes.
        box: The legend's width and height as fractions of the plot's.

    Returns:
        One of :data:`CORNERS` (the first, top right, on a tie).
    """
    x_lo, x_hi, y_lo, y_hi = limits
    x_span, y_span = (x_hi - x_lo) or 1.0, (y_hi - y_lo) or 1.0
    costs = dict.fromkeys(CORNERS, 0.0)
    for x, y in curves:
        if not len(x):
            continue
        fx = (x - x_lo) / x_span
        fy = (y - y_lo) / y_span
        newest = np.zeros(len(x), dtype=bool)
        newest[-max(1, len(x) // 10) :] = True  # the last tenth of each curve, its newest points
        weight = np.where(newest, 1000.0, 1.0)
        for corner in CORNERS:
            in_x = fx >= 1 - box[0] if "right" in corner else fx <= box[0]
            in_y = fy >= 1 - box[1] if "top" in corner else fy <= box[1]
            costs[corner] += float(weight[in_x & in_y].sum())
    return min(CORNERS, key=lambda corner: costs[corner])
