"""Axis ticks and labels that fit a terminal chart's margin and never lie: compact numbers, log values, durations."""

import itertools
import math
from collections.abc import Sequence

from textual_plot.axis_formatter import AxisFormatter

LABEL_WIDTH = 7
_SUFFIXES = ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"))
_TIME_UNITS = ((2 * 86400.0, 86400.0, "d"), (2 * 3600.0, 3600.0, "h"), (120.0, 60.0, "min"), (0.0, 1.0, "s"))


def nice_ticks(lo: float, hi: float, max_ticks: int = 6) -> list[float]:
    """Evenly spaced ticks at a 1/2/5 x 10^k spacing inside ``[lo, hi]`` (at most ``max_ticks``, never empty).

    Args:
        lo: Axis minimum (finite).
        hi: Axis maximum (finite).
        max_ticks: Most ticks wanted.

    Returns:
        Increasing tick positions; ``[lo]`` for an empty or non-finite range.
    """
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return []
    span = hi - lo
    if math.isinf(span):  # both ends near the float limit: work in halves
        return [2 * t for t in nice_ticks(lo / 2, hi / 2, max_ticks)]
    if span <= 0:
        return [lo]
    raw = span / max(1, max_ticks - 1)
    power = 10.0 ** math.floor(math.log10(raw))
    step = next((m * power for m in (1.0, 2.0, 5.0, 10.0) if m * power >= raw), 10.0 * power)
    first = math.ceil(lo / step)
    last = math.floor(hi / step)
    return [k * step for k in range(first, last + 1)] or [lo]


def _strip(text: str) -> str:
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _decimals(spacing: float) -> int:
    return max(0, -math.floor(math.log10(spacing))) if spacing > 0 and math.isfinite(spacing) else 0


def compact_labels(ticks: Sequence[float], width: int = LABEL_WIDTH) -> list[str]:
    """Labels for evenly spaced ticks, each at most ``width`` characters, distinct where the width allows.

    Plain numbers below 1000 (``0.25``, ``-40``), k/M/G/T suffixes up to 1e15 (``3.2k``, ``1.5M``) and
    scientific notation with one shared exponent beyond, or for small values (``1.6e20``, ``4.8e15``, ``2e-5``).

    Args:
        ticks: Increasing tick positions (finite).
        width: Most characters per label.

    Returns:
        One label per tick.
    """
    ticks = [float(t) for t in ticks]
    if not ticks:
        return []
    top = max(abs(t) for t in ticks)
    spacing = min((b - a for a, b in itertools.pairwise(ticks) if b > a), default=top / 100)
    if top == 0:
        return ["0"] * len(ticks)
    candidates: list[list[str]] = []
    if top < 1e3 and spacing >= 1e-3:
        candidates.append([_strip(f"{t:.{_decimals(spacing)}f}") for t in ticks])
    elif 1e3 <= top < 1e15 and spacing >= 1:
        unit, suffix = next((u, s) for u, s in _SUFFIXES if top >= u)
        d = _decimals(spacing / unit)
        candidates.append([_strip(f"{t / unit:.{d}f}") + (suffix if t else "") for t in ticks])
    exponent = math.floor(math.log10(top))
    for d in range(min(4, max(0, exponent - math.floor(math.log10(spacing)))), -1, -1):
        candidates.append([_scientific(t, exponent, d) for t in ticks])
    fitting = [c for c in candidates if max(map(len, c)) <= width]
    for labels in fitting:
        if len(set(labels)) == len(set(ticks)):
            return labels
    return fitting[0] if fitting else [label[:width] for label in candidates[-1]]


def _scientific(value: float, exponent: int, decimals: int) -> str:
    if value == 0:
        return "0"
    return f"{_strip(f'{value / 10.0**exponent:.{decimals}f}')}e{exponent}"


def power_label(exponent: float) -> str:
    """The value ``10 ** exponent`` as a short label (``1e-3``, ``0.1``, ``1``, ``100``, ``1e6``, ``3.2e-5``)."""
    k = round(exponent)
    if abs(exponent - k) < 1e-9:
        return str(10**k) if 0 <= k <= 3 else ("0.1" if k == -1 else f"1e{k}")
    return compact_labels([10.0**exponent])[0]


class CompactFormatter(AxisFormatter):
    """Linear axis ticks with compact labels that fit :data:`LABEL_WIDTH` (values are shown times ``scale``)."""

    def __init__(self, scale: float = 1.0) -> None:
        """Creates the formatter; ``scale`` multiplies each label (the chart divided huge values by it)."""
        self.scale = scale

    def get_ticks(self, min_: float, max_: float, max_ticks: int = 8) -> list[float]:
        """Nice ticks inside the range."""
        return nice_ticks(min_, max_, min(max_ticks, 6))

    def get_labels_for_ticks(self, ticks: Sequence[float]) -> list[str]:
        """Compact labels of the ticks (times the scale)."""
        return compact_labels([t * self.scale for t in ticks])


class LogFormatter(AxisFormatter):
    """A log10 axis: positions are exponents, labels are the values (``1e-3``), at whole decades when any fit."""

    def get_ticks(self, min_: float, max_: float, max_ticks: int = 8) -> list[float]:
        """Whole decades inside the range (thinned), or nice ticks of the exponent when less than a decade shows."""
        if not (math.isfinite(min_) and math.isfinite(max_)):
            return []
        decades = list(range(math.ceil(min_), math.floor(max_) + 1))
        if len(decades) < 3:  # under two decades show: ticks at 1, 2, 5 (then every digit) times a power of ten
            for mantissas in ((1, 2, 5), range(1, 10)):
                ticks = [
                    math.log10(m) + k
                    for k in range(math.floor(min_), math.ceil(max_) + 1)
                    for m in mantissas
                    if min_ <= math.log10(m) + k <= max_
                ]
                if len(ticks) >= 3:
                    return ticks
            return nice_ticks(min_, max_, 4)
        if len(decades) <= min(max_ticks, 6):
            return [float(k) for k in decades]
        return nice_ticks(decades[0], decades[-1], min(max_ticks, 6))

    def get_labels_for_ticks(self, ticks: Sequence[float]) -> list[str]:
        """Each tick's value ``10 ** tick``."""
        return [power_label(t) for t in ticks]


def duration_unit(seconds: float) -> tuple[float, str]:
    """The unit (seconds per unit, name) in which a duration of ``seconds`` reads best."""
    return next((size, name) for limit, size, name in _TIME_UNITS if abs(seconds) >= limit)


class ElapsedFormatter(AxisFormatter):
    """A time axis in seconds since the run started, labelled with units (``30s``, ``2.5min``, ``1.5h``, ``2d``)."""

    def get_ticks(self, min_: float, max_: float, max_ticks: int = 8) -> list[float]:
        """Nice ticks in the unit the axis end reads best in."""
        size, _ = duration_unit(max(abs(min_), abs(max_)))
        return [t * size for t in nice_ticks(min_ / size, max_ / size, min(max_ticks, 5))]

    def get_labels_for_ticks(self, ticks: Sequence[float]) -> list[str]:
        """Compact labels with the unit appended."""
        if not ticks:
            return []
        size, name = duration_unit(max(abs(t) for t in ticks))
        return [f"{label}{name}" for label in compact_labels([t / size for t in ticks], width=LABEL_WIDTH - 3)]


class CategoryFormatter(AxisFormatter):
    """A categorical axis: positions are category indices, labels the categories (cut to :data:`LABEL_WIDTH`)."""

    def __init__(self, labels: Sequence[str]) -> None:
        """Creates the formatter of categories ``labels`` (index 0 first)."""
        self.labels = list(labels)

    def get_ticks(self, min_: float, max_: float, max_ticks: int = 8) -> list[float]:
        """Every category index inside the range (every k-th when more than ``max_ticks`` would show)."""
        if not (math.isfinite(min_) and math.isfinite(max_)) or not self.labels:
            return []
        inside = [i for i in range(len(self.labels)) if min_ <= i <= max_]
        every = max(1, math.ceil(len(inside) / max(1, max_ticks)))
        return [float(i) for i in inside[::every]]

    def get_labels_for_ticks(self, ticks: Sequence[float]) -> list[str]:
        """The category of each tick."""
        out = []
        for t in ticks:
            i = round(t)
            label = self.labels[i] if 0 <= i < len(self.labels) else ""
            out.append(label if len(label) <= LABEL_WIDTH else label[: LABEL_WIDTH - 1] + "…")
        return out
