"""Metric charts: a textual-plot chart per metric (clipped, zoomable, with a cursor) and a paged pane of them."""

import asyncio
import math

import numpy as np
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Grid
from textual.css.query import NoMatches
from textual.events import Mount
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Static
from textual_hires_canvas import Canvas, TextAlign
from textual_plot import HiResMode, PlotWidget
from textual_plot.plot_widget import LegendLocation

from xaxtui.state import RunState
from xaxtui.widgets.axes import CompactFormatter, ElapsedFormatter, LogFormatter, compact_labels, duration_unit
from xaxtui.widgets.chart_view import legend_corner, nearest, robust_range
from xaxtui.widgets.curves import SMOOTHING, ChartOptions, curve, gap_positions, padded, split_at_gaps
from xaxtui.widgets.lifecycle import leaving
from xaxtui.widgets.palette import PALETTE, PHASE_STYLES, run_color, run_colors, series_color

__all__ = ["PALETTE", "SMOOTHING", "ChartOptions", "ChartPane", "MetricChart", "curve", "run_color", "run_colors"]

MAX_CHARTS = 4
LEGEND_LABEL = 32  # a legend name is cut to this many characters (then the phase)
_LEGEND = {
    "top right": LegendLocation.TOPRIGHT,
    "bottom right": LegendLocation.BOTTOMRIGHT,
    "top left": LegendLocation.TOPLEFT,
    "bottom left": LegendLocation.BOTTOMLEFT,
}


class MetricChart(PlotWidget):
    """One metric: every phase of every compared run on the same axes (not focusable: keys belong to the view)."""

    can_focus = False

    DEFAULT_CSS = """
    MetricChart { height: 1fr; min-height: 6; }
    MetricChart > .plot--axis { color: $foreground-muted; }
    MetricChart:light > .plot--axis { color: $foreground 75%; }
    MetricChart > .plot--tick { color: $foreground; text-style: bold; }
    MetricChart > .plot--label { color: $text-primary; text-style: bold; }
    """

    class Selected(Message):
        """The chart was clicked: the run view opens it full screen."""

        def __init__(self, metric: str) -> None:
            """A click on the chart of ``metric``."""
            super().__init__()
            self.metric = metric

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
        self.cursor: float | None = None
        self.clipped = False
        self.legend_at = "top right"
        self.x_bounds: tuple[float, float] | None = None
        self.raw: list[tuple[str, str, np.ndarray, np.ndarray]] = []  # name, style, x, y of each series

    def _render_y_label(self) -> None:
        """Writes the title from the chart's left edge (textual-plot centres it on the tick column and cuts it)."""
        style = self.get_component_rich_style("plot--label")
        margin = self.query_one("#margin-top", Canvas)
        margin.reset()  # textual-plot never clears it: a shorter title would keep the end of the longer one
        margin.write_text(0, 0, f"[{style}]{self._y_label}", TextAlign.LEFT)

    @on(Mount)
    def _mount_unless_leaving(self, event: Mount) -> None:
        """Lets textual-plot set up its margins, unless the chart is already being removed.

        A screen popped in the tick it was pushed prunes the chart's children before this runs; textual-plot's own
        handler (next in the MRO) would then fail to find its ``Grid``.
        """
        if leaving(self):
            event.prevent_default()

    def on_mount(self) -> None:
        """Draws again when the theme changes (series colors follow the background)."""
        self.watch(self.app, "theme", self._theme_changed, init=False)

    def _theme_changed(self, _theme: str) -> None:
        self.call_after_refresh(self._redraw_last)

    def _redraw_last(self) -> None:
        if self._last is not None and not leaving(self):
            self.draw(*self._last)

    def on_resize(self) -> None:
        """Draws again when the width changed since the last draw (curves are decimated to the width)."""
        if leaving(self):
            return
        if self._last is not None and self.size.width != self.drawn_width:
            self.draw(*self._last)

    @property
    def fits_size(self) -> bool:
        """Whether the curves on screen were decimated for the chart's current (non-zero) width."""
        return self.size.width > 0 and self.drawn_width == self.size.width

    def on_click(self) -> None:
        """Asks the view to open this chart full screen."""
        self.post_message(self.Selected(self.metric))

    def draw(self, runs: list[tuple[str, RunState]], options: ChartOptions) -> None:
        """Replaces the curves with the current data of ``runs`` (label, state): finite points only, any values."""
        self._last = (runs, options)
        self.drawn_width = self.size.width
        self.clear()
        width = max(8, (self.size.width - self.margin_left) * 2)
        curves = []
        self.raw = []
        hidden = 0
        colors = run_colors([state.run_id or label for label, state in runs])  # by run: stable across comparisons
        for label, state in runs:
            for phase in state.phases(self.metric):
                arrays = state.series[self.metric, phase].arrays(options.x_axis, t0=state.first_t)
                gaps = gap_positions(*arrays, log_y=options.log_y)
                hidden += len(gaps) + int((~np.isfinite(arrays[0])).sum())
                x, y = curve(state, self.metric, phase, options, width, arrays)
                style, name = self._style(label, phase, len(runs), colors[state.run_id or label])
                self.raw.append((name, style, *arrays))
                if len(x):
                    curves.append((x, y, style, name, gaps))
        xs = [a[2][np.isfinite(a[2]) & np.isfinite(a[3])] for a in self.raw]
        xs = [x for x in xs if len(x)]
        self.x_bounds = (min(float(x.min()) for x in xs), max(float(x.max()) for x in xs)) if xs else None
        y_scale = self._set_limits([c[0] for c in curves], [c[1] for c in curves], options)
        drawn = []
        for x, raw_y, style, name, gaps in curves:
            label: str | None = name
            y = np.clip(raw_y / y_scale, self._y_min, self._y_max) if self.clipped else raw_y / y_scale
            drawn.append((x, y))
            for part_x, part_y in split_at_gaps(x, y, gaps):
                if len(part_x) == 1:  # a line needs two points: mark a lone one
                    self.scatter(part_x, part_y, marker="●", marker_style=style, label=label)
                else:
                    self.plot(part_x, part_y, line_style=style, hires_mode=HiResMode.BRAILLE, label=label)
                label = None  # one legend row per curve
        if self.cursor is not None and curves and self._x_min <= self.cursor <= self._x_max:
            color = self.get_component_rich_style("plot--tick").color
            self.add_v_line(self.cursor, color.get_truecolor().hex if color is not None else "white")
        self.set_y_formatter(LogFormatter() if options.log_y else CompactFormatter(y_scale))
        self.set_x_formatter(CompactFormatter() if options.x_axis == "step" else ElapsedFormatter())
        title = f"{self.metric} (log)" if options.log_y else self.metric
        if hidden:
            title += f" · {hidden} not {'positive or finite' if options.log_y else 'finite'}, not drawn"
        if self.clipped:
            title += " · y clipped to p1\N{EN DASH}p99, y: show all"
        self.set_ylabel(title)
        self.set_xlabel("step" if options.x_axis == "step" else "time since start")
        self._place_legend([c[3] for c in curves], drawn)

    def background_rgb(self) -> tuple[int, int, int]:
        """The background the chart is drawn on, as ``(r, g, b)`` (series colors are made readable on it)."""
        return self.background_colors[1].rgb

    def series_color(self, base: str, role: str = "series") -> str:
        """``base`` as drawn on this chart's background (see :func:`xaxtui.widgets.palette.series_color`)."""
        return series_color(base, self.background_rgb(), role)

    def _style(self, label: str, phase: str, n_runs: int, color: str) -> tuple[str, str]:
        """The line style and legend name of one run's phase (``color``: the run's in a comparison)."""
        if self.label_colors is not None:  # the caller's colors, one per label (the sweep's live trials)
            return self.series_color(self.label_colors.get(label, PALETTE[0])), label
        if n_runs == 1:
            return self.series_color(PHASE_STYLES.get(phase, PALETTE[2 + hash(phase) % 6])), phase
        name = label if len(label) <= LEGEND_LABEL else label[: LEGEND_LABEL - 1] + "…"  # compare labels are short
        role = "train" if phase == "train" else "valid"
        return self.series_color(color, role), f"{name} {phase}"

    def _place_legend(self, names: list[str], drawn: list[tuple[np.ndarray, np.ndarray]]) -> None:
        """Shows the legend in the corner where it covers the fewest points and none of the newest."""
        plot_w = max(1, self.size.width - self.margin_left)
        plot_h = max(1, self.size.height - self.margin_top - self.margin_bottom)
        box = ((max(map(len, names), default=0) + 6) / plot_w, (len(names) + 2) / plot_h)
        self.legend_at = legend_corner(drawn, (self._x_min, self._x_max, self._y_min, self._y_max), box)
        self.show_legend(location=_LEGEND[self.legend_at], is_visible=bool(self._datasets))

    def readout(self, at: float, x_axis: str = "step") -> Text:
        """The value of every series at its point nearest to ``at``: one line for under the chart."""
        if x_axis == "step":
            where = compact_labels([at])[0]
        else:
            size, unit = duration_unit(at)
            where = f"{at / size:.3g}{unit}"
        text = Text(f"{x_axis} {where}", style="bold")
        for name, style, x, y in self.raw:
            point = nearest(x, y, at)
            text.append(" · ")
            text.append(name, style=style)
            value = "—" if point is None else f"{point[1]:.4g}"
            off = "" if point is None or point[0] == at or x_axis != "step" else f" @{point[0]:g}"
            text.append(f" {value}{off}")
        return text

    def _set_limits(self, xs: list[np.ndarray], ys: list[np.ndarray], options: ChartOptions | None = None) -> float:
        """Sets axis limits that textual-plot can draw, and returns the factor the y values must be divided by.

        A flat or one-point curve gets a range around its value (textual-plot's own is too thin for big values);
        values whose range overflows a float (near 1e308) are drawn divided by a power of ten, labelled unscaled.
        A zoomed chart (``options.x_range``) takes its y range from the points inside the x range; with
        ``options.clip``, a run whose few wild points would squash the rest is clipped to the robust range
        (:attr:`clipped` says so).
        """
        self.clipped = False
        x_range = options.x_range if options is not None else None
        if x_range is not None:
            inside = [(x >= x_range[0]) & (x <= x_range[1]) for x in xs]
            ys = [y[m] for y, m in zip(ys, inside, strict=True) if m.any()] or ys
        if not xs:
            self.set_xlimits(None, None)
            self.set_ylimits(None, None)
            return 1.0
        data = (min(float(x.min()) for x in xs), max(float(x.max()) for x in xs))
        if x_range is not None:  # inside the data's range (a span past the float limit cannot be mapped to pixels)
            x_range = (max(x_range[0], data[0]), min(x_range[1], data[1]))
        x_lo, x_hi = padded(*(x_range if x_range is not None and x_range[0] < x_range[1] else data))
        clip = robust_range(ys) if options is not None and options.clip else None
        if clip is not None:
            self.clipped = True
            ys = [np.clip(y, *clip) for y in ys]
        y_lo = min(float(y.min()) for y in ys)
        y_hi = max(float(y.max()) for y in ys)
        top = max(abs(y_lo), abs(y_hi))
        scale = 10.0 ** math.floor(math.log10(top)) if top > 1e300 else 1.0
        y_lo, y_hi = padded(y_lo / scale, y_hi / scale)
        self.set_xlimits(x_lo, x_hi)
        self.set_ylimits(y_lo, y_hi)
        return scale


class ChartPane(Widget):
    """Charts of the metrics that match the filter, :data:`MAX_CHARTS` at most at a time, in pages."""

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
        self.page = 0
        self.matching: list[str] = []  # the metrics that match the filter, on every page
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
        matching = [m for m in names if self.options.matches(m)]
        per_page = min(MAX_CHARTS, fit)
        self.matching = matching
        self.page = max(0, min(self.page, (len(matching) - 1) // per_page))
        return matching[self.page * per_page : (self.page + 1) * per_page]

    @property
    def metrics(self) -> list[str]:
        """The metrics whose charts the pane shows now."""
        return list(self._metrics)

    async def turn_page(self, by: int) -> None:
        """Shows the next (``by`` > 0) or previous page of charts (wrapping around)."""
        per_page = max(1, min(MAX_CHARTS, self._chart_fit()))
        pages = max(1, -(-len(self.matching) // per_page))
        self.page = (self.page + by) % pages
        await self.redraw(self._runs)

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
        if len(metrics) < len(self.matching):
            text.append(f" · {len(metrics)} of {len(self.matching)} metrics shown, [ ]: page", style="bold")
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
