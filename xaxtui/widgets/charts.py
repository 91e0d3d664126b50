"""Metric charts: app-free decimation and smoothing, and a pane of textual-plot charts (one per metric)."""

import asyncio
import math
import re
import zlib
from dataclasses import dataclass

import numpy as np
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Grid
from textual.css.query import NoMatches
from textual.widget import Widget
from textual.widgets import Static
from textual_hires_canvas import Canvas, TextAlign
from textual_plot import HiResMode, PlotWidget

from xaxtui.state import RunState
from xaxtui.widgets.axes import CompactFormatter, ElapsedFormatter, LogFormatter

PALETTE = ("#4ea1ff", "#ff9f43", "#2ed573", "#ff6b81", "#a29bfe", "#feca57", "#48dbfb", "#ff9ff3")
PHASE_STYLES = {
    "train": PALETTE[0],
    "valid": PALETTE[1],
    "best": PALETTE[2],
    "trial": PALETTE[0],
}  # sweep view: best, trial
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


def run_color(run_id: str) -> str:
    """The color a run prefers (the same run id always prefers the same color)."""
    return PALETTE[zlib.crc32(run_id.encode()) % len(PALETTE)]


def run_colors(run_ids: list[str]) -> dict[str, str]:
    """Colors for the runs of one comparison: each its preferred one unless an earlier run has it, then the next free.

    Distinct for up to ``len(PALETTE)`` runs; a run keeps its color across redraws (the list order is the view's)
    and, when nothing collides, the color it has on its own.
    """
    taken: set[int] = set()
    out: dict[str, str] = {}
    for run_id in run_ids:
        slot = zlib.crc32(run_id.encode()) % len(PALETTE)
        for probe in range(len(PALETTE)):
            if (slot + probe) % len(PALETTE) not in taken:
                slot = (slot + probe) % len(PALETTE)
                break
        taken.add(slot)
        out[run_id] = PALETTE[slot]
    return out


@dataclass(frozen=True)
class ChartOptions:
    """How the charts are drawn."""

    log_y: bool = False
    x_axis: str = "step"
    smoothing: float = 0.0
    pattern: str = ""

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
    """One drawable curve: x axis chosen, smoothed, log-scaled, decimated to ``width`` buckets.

    ``arrays`` are the series' ``arrays(options.x_axis, t0=state.first_t)`` when the caller has them already.
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
    return decimate_minmax(x, y, width)


class MetricChart(PlotWidget):
    """One metric: every phase of every compared run on the same axes (not focusable: keys belong to the view)."""

    can_focus = False

    DEFAULT_CSS = """
    MetricChart { height: 1fr; min-height: 6; }
    """

    def __init__(self, metric: str, **kwargs: object) -> None:
        """Creates the chart of ``metric``."""
        super().__init__(allow_pan_and_zoom=False, **kwargs)  # ty: ignore[invalid-argument-type]
        self.metric = metric
        self.set_reactive(PlotWidget.margin_top, 1)
        self.set_reactive(PlotWidget.margin_bottom, 2)
        self.set_reactive(PlotWidget.margin_left, 8)
        self._last: tuple[list[tuple[str, RunState]], ChartOptions] | None = None
        self.drawn_width = -1
        self.label_colors: dict[str, str] | None = None

    def _render_y_label(self) -> None:
        """Writes the title from the chart's left edge (textual-plot centres it on the tick column and cuts it)."""
        style = self.get_component_rich_style("plot--label")
        self.query_one("#margin-top", Canvas).write_text(0, 0, f"[{style}]{self._y_label}", TextAlign.LEFT)

    def on_resize(self) -> None:
        """Draws again when the width changed since the last draw (curves are decimated to the width)."""
        if self._last is not None and self.size.width != self.drawn_width:
            self.draw(*self._last)

    @property
    def fits_size(self) -> bool:
        """Whether the curves on screen were decimated for the chart's current (non-zero) width."""
        return self.size.width > 0 and self.drawn_width == self.size.width

    def draw(self, runs: list[tuple[str, RunState]], options: ChartOptions) -> None:
        """Replaces the curves with the current data of ``runs`` (label, state): finite points only, any values."""
        self._last = (runs, options)
        self.drawn_width = self.size.width
        self.clear()
        width = max(8, (self.size.width - self.margin_left) * 2)
        curves = []
        hidden = 0
        colors = run_colors([label for label, _ in runs])
        for label, state in runs:
            for phase in state.phases(self.metric):
                arrays = state.series[self.metric, phase].arrays(options.x_axis, t0=state.first_t)
                gaps = gap_positions(*arrays, log_y=options.log_y)
                hidden += len(gaps) + int((~np.isfinite(arrays[0])).sum())
                x, y = curve(state, self.metric, phase, options, width, arrays)
                if self.label_colors is not None:  # the caller's colors, one per label (the sweep's live trials)
                    style, name = self.label_colors.get(label, PALETTE[0]), label
                elif len(runs) == 1:
                    style = PHASE_STYLES.get(phase, PALETTE[2 + hash(phase) % 6])
                    name = phase
                else:
                    style = colors[label] if phase == "train" else f"{colors[label]} dim"
                    name = f"{label[-9:]} {phase}"
                if len(x):
                    curves.append((x, y, style, name, gaps))
        y_scale = self._set_limits([c[0] for c in curves], [c[1] for c in curves])
        for x, y, style, name, gaps in curves:
            label: str | None = name
            for part_x, part_y in split_at_gaps(x, y / y_scale, gaps):
                if len(part_x) == 1:  # a line needs two points: mark a lone one
                    self.scatter(part_x, part_y, marker="●", marker_style=style, label=label)
                else:
                    self.plot(part_x, part_y, line_style=style, hires_mode=HiResMode.BRAILLE, label=label)
                label = None  # one legend row per curve
        self.set_y_formatter(LogFormatter() if options.log_y else CompactFormatter(y_scale))
        self.set_x_formatter(CompactFormatter() if options.x_axis == "step" else ElapsedFormatter())
        title = f"{self.metric} (log)" if options.log_y else self.metric
        if hidden:
            title += f" · {hidden} not {'positive or finite' if options.log_y else 'finite'}, not drawn"
        self.set_ylabel(title)
        self.set_xlabel("step" if options.x_axis == "step" else "time since start")
        self.show_legend(is_visible=bool(self._datasets))

    def _set_limits(self, xs: list[np.ndarray], ys: list[np.ndarray]) -> float:
        """Sets axis limits that textual-plot can draw, and returns the factor the y values must be divided by.

        A flat or one-point curve gets a range around its value (textual-plot's own is too thin for big values);
        values whose range overflows a float (near 1e308) are drawn divided by a power of ten, labelled unscaled.
        """
        if not xs:
            self.set_xlimits(None, None)
            self.set_ylimits(None, None)
            return 1.0
        x_lo, x_hi = padded(min(float(x.min()) for x in xs), max(float(x.max()) for x in xs))
        y_lo = min(float(y.min()) for y in ys)
        y_hi = max(float(y.max()) for y in ys)
        top = max(abs(y_lo), abs(y_hi))
        scale = 10.0 ** math.floor(math.log10(top)) if top > 1e300 else 1.0
        y_lo, y_hi = padded(y_lo / scale, y_hi / scale)
        self.set_xlimits(x_lo, x_hi)
        self.set_ylimits(y_lo, y_hi)
        return scale


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


class ChartPane(Widget):
    """Charts of every metric that matches the filter (at most :data:`MAX_CHARTS`)."""

    DEFAULT_CSS = """
    ChartPane { height: 1fr; }
    ChartPane > Grid { grid-size: 2; grid-gutter: 0 1; }
    ChartPane > Grid.single { grid-size: 1; }
    ChartPane > #chart-options { height: 1; color: $text-muted; }
    """

    def __init__(self, **kwargs: object) -> None:
        """Creates an empty pane."""
        super().__init__(**kwargs)  # ty: ignore[invalid-argument-type]
        self.options = ChartOptions()
        self._metrics: list[str] = []
        self._runs: list[tuple[str, RunState]] = []
        self._fit = -1
        self._lock = asyncio.Lock()

    def _chart_fit(self) -> int:
        """How many charts fit the pane's current size."""
        return max(1, (self.size.height - 1) // 9) * (2 if self.size.width >= 100 else 1)

    async def on_resize(self) -> None:
        """Chooses the charts again when the number that fits changed (a finished run gets no new data to do it)."""
        if self._runs and self._chart_fit() != self._fit:
            await self.redraw(self._runs)

    def compose(self) -> ComposeResult:
        """An options line and the grid of charts."""
        yield Static(id="chart-options")
        yield Grid(id="chart-grid")

    @property
    def fits_size(self) -> bool:
        """Whether the pane shows the charts chosen for its current size, each drawn for its width."""
        charts = list(self.query(MetricChart))
        return (
            bool(charts)
            and [c.metric for c in charts] == self._metrics
            and self._fit == self._chart_fit()
            and all(c.fits_size for c in charts)
        )

    def metrics_for(self, runs: list[tuple[str, RunState]]) -> list[str]:
        """Metrics to draw: those of all runs matching the filter, losses first, then in first-seen order."""
        names = sorted(dict.fromkeys(m for _, state in runs for m in state.metrics()), key=lambda m: "loss" not in m)
        self._fit = fit = self._chart_fit()
        return [m for m in names if self.options.matches(m)][: min(MAX_CHARTS, fit)]

    async def redraw(self, runs: list[tuple[str, RunState]]) -> None:
        """Draws ``runs`` (label, state), adding or removing charts when the metric set changes."""
        self._runs = runs
        async with self._lock:
            await self._redraw(runs)

    async def _redraw(self, runs: list[tuple[str, RunState]]) -> None:
        metrics = self.metrics_for(runs)
        grid = self.query_one("#chart-grid", Grid)
        if metrics != self._metrics:
            self._metrics = metrics
            await grid.remove_children()
            await grid.mount_all([MetricChart(m) for m in metrics])
        grid.set_class(len(metrics) <= 1 or self.size.width < 100, "single")
        for chart in grid.query(MetricChart):
            if chart.is_mounted:
                try:
                    chart.draw(runs, self.options)
                except NoMatches:
                    continue
        o = self.options
        smooth = f"ema {o.smoothing:g}" if o.smoothing else "raw"
        text = Text(f"x: {o.x_axis} · y: {'log' if o.log_y else 'linear'} · {smooth} · filter: {o.pattern or '*'}")
        if o.pattern_error:
            text.append(f" · invalid regex: {o.pattern_error}", style="red").append(" (matched as plain text)")
        if not metrics:
            known = any(state.metrics() for _, state in runs)
            failed = [state for _, state in runs if state.status == "failed"]
            if known:
                text.append(" · no metric matches the filter")
            elif failed:
                text.append(f" · the run failed before logging a metric: {failed[0].reason or '?'}", style="red")
            else:
                text.append(" · no metrics yet")
        self.query_one("#chart-options", Static).update(text)
