"""The sweep view's scatter of the objective against one param: a marker per trial with a value, the best starred.

Log-scale params are drawn at log10 of their value with the run view's log labels, choices at their category index
with the categories as labels. Trials whose value cannot be drawn (not finite, a non-positive value on a log axis)
are counted in the title, never plotted.
"""

import math

import numpy as np

from xaxtui.sweep_space import ParamAxis, Points, scatter_points
from xaxtui.sweeps import SweepStatus
from xaxtui.widgets.axes import CategoryFormatter, CompactFormatter, LogFormatter
from xaxtui.widgets.charts import PALETTE, MetricChart

STATE_MARKERS = {"complete": ("●", PALETTE[0]), "pruned": ("○", PALETTE[5])}
BEST_MARKER = ("★", PALETTE[2])


class ParamScatter(MetricChart):
    """The objective against one param of the sweep (:meth:`show` redraws from a read of ``status.json``)."""

    DEFAULT_CSS = """
    ParamScatter { height: 1fr; min-height: 6; }
    """

    def __init__(self, axis: ParamAxis, **kwargs: object) -> None:
        """Creates the scatter of ``axis``'s param."""
        super().__init__(axis.name, **kwargs)
        self.axis = axis
        self.points = Points()
        self._sweep: SweepStatus | None = None

    def on_resize(self) -> None:
        """Draws again for the new size."""
        if self._sweep is not None and self.size.width != self.drawn_width:
            self.show(self._sweep)

    def show(self, sweep: SweepStatus) -> None:
        """Draws every trial of ``sweep`` that has an objective value and this param."""
        self._sweep = sweep
        self.drawn_width = self.size.width
        self.clear()
        self.points = points = scatter_points(sweep, self.axis)
        best = sweep.best.number if sweep.best is not None else None
        x_scale, y_scale = huge_scale(points.x), huge_scale(points.y)  # values near 1e308 overflow the axes
        xs_drawn, ys_drawn = [x / x_scale for x in points.x], [y / y_scale for y in points.y]
        groups: dict[tuple[str, str], tuple[list[float], list[float]]] = {}
        for x, y, trial in zip(xs_drawn, ys_drawn, points.trials, strict=True):
            marker = BEST_MARKER if trial.number == best else STATE_MARKERS.get(trial.state, ("·", PALETTE[4]))
            xs, ys = groups.setdefault(marker, ([], []))
            xs.append(x)
            ys.append(y)
        self._set_limits([np.asarray(xs) for xs, _ in groups.values()], [np.asarray(ys) for _, ys in groups.values()])
        if ys_drawn and (rise := max(ys_drawn) - min(ys_drawn)) > 0:  # keep the top and bottom markers inside
            self.set_ylimits(min(ys_drawn) - 0.1 * rise, max(ys_drawn) + 0.1 * rise)
        if self.axis.scale == "choice":
            self.set_xlimits(-0.5, max(0.5, len(self.axis.choices) - 0.5))
            self.set_x_formatter(CategoryFormatter(self.axis.labels()))
        else:
            if xs_drawn and (span := max(xs_drawn) - min(xs_drawn)) > 0:  # keep the end markers off the frame
                self.set_xlimits(min(xs_drawn) - 0.05 * span, max(xs_drawn) + 0.05 * span)
            self.set_x_formatter(LogFormatter() if self.axis.scale == "log" else CompactFormatter(x_scale))
        self.set_y_formatter(CompactFormatter(y_scale))
        for (marker, style), (xs, ys) in groups.items():
            self.scatter(np.asarray(xs), np.asarray(ys), marker=marker, marker_style=self.series_color(style))
        title = f"{sweep.objective or 'objective'} vs {self.axis.name}"
        if self.axis.scale == "log":
            title += " (log)"
        if points.skipped:
            title += f" · {points.skipped} not drawn"
        if not points.x:
            title += " · no values yet"
        self.set_ylabel(title)
        self.set_xlabel("")


def huge_scale(values: list[float]) -> float:
    """The power of ten that values this large are divided by to be drawn (1 unless some exceed 1e300)."""
    top = max((abs(v) for v in values), default=0.0)
    return 10.0 ** math.floor(math.log10(top)) if top > 1e300 else 1.0
