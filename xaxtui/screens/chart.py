"""One metric's chart full screen: zoom and pan on the x range, and a cursor that reads out every series' value.

The x range is the view's own (the run view's charts stay as they were); the chart redraws on every
:class:`~xaxtui.messages.RunUpdated` of its sessions (at most every :data:`REDRAW_MIN_S`), so a live run keeps
growing on it. ``esc`` goes back to the run view.
"""

import asyncio
import time
from dataclasses import replace

from textual import on
from textual.app import ComposeResult
from textual.widgets import Footer, Static

from xaxtui.keys import bindings
from xaxtui.messages import RunUpdated
from xaxtui.screens.base import ScopedScreen
from xaxtui.session import RunSession
from xaxtui.widgets.chart_view import ZOOM_FACTOR, shift, zoom
from xaxtui.widgets.charts import ChartOptions, MetricChart
from xaxtui.widgets.config_diff import labelled
from xaxtui.widgets.lifecycle import leaving

REDRAW_MIN_S = 0.1
PAN_SHARE = 0.25  # shift+left/right moves the view by this share of its width


class ChartScreen(ScopedScreen):
    """The chart of ``metric`` for ``sessions`` (compared runs included), full screen."""

    KEY_SCOPE = "chart"
    BINDINGS = bindings(KEY_SCOPE)
    DEFAULT_CSS = """
    ChartScreen #chart-help { height: 1; color: $text-muted; }
    ChartScreen #chart-readout { height: auto; max-height: 3; }
    ChartScreen MetricChart { height: 1fr; }
    """

    def __init__(self, sessions: list[RunSession], metric: str, metrics: list[str], options: ChartOptions) -> None:
        """Opens ``metric``; ``[``/``]`` step through ``metrics``; ``options`` are the run view's (x axis, log...)."""
        super().__init__()
        self.sessions = sessions
        self.metric = metric
        self.metrics = metrics or [metric]
        self.options = replace(options, x_range=None)
        self.view: tuple[float, float] | None = None  # None: the whole x range
        self.cursor: float | None = None  # None: at the newest point
        self.draws = 0
        self._pending = False
        self._last_draw = -1.0

    def compose(self) -> ComposeResult:
        """A help line, the chart, the cursor's readout."""
        yield Static(id="chart-help")
        yield MetricChart(self.metric, id="full-chart")
        yield Static(id="chart-readout")
        yield Footer()

    def on_mount(self) -> None:
        """Draws once the chart has its size."""
        if leaving(self):
            return  # popped before its Mount was handled: the children are gone
        self.call_after_refresh(self.redraw)

    @property
    def chart(self) -> MetricChart:
        """The chart on screen."""
        return self.query_one("#full-chart", MetricChart)

    def redraw(self) -> None:
        """Draws the chart with the current view, cursor and options, and the readout of the cursor."""
        self._last_draw = time.monotonic()
        if not self.query("#full-chart"):
            return  # between two metrics' charts (the next one draws once mounted)
        chart = self.chart
        chart.cursor = self.cursor
        runs = labelled([(s.label, s.state) for s in self.sessions])
        chart.draw(runs, replace(self.options, x_range=self.view))
        bounds = chart.x_bounds
        if bounds is not None and (self.cursor is None or not bounds[0] <= self.cursor <= bounds[1]):
            self.cursor = chart.cursor = bounds[1]
            chart.draw(runs, replace(self.options, x_range=self.view))
        readout = chart.readout(self.cursor, self.options.x_axis) if self.cursor is not None else "no data yet"
        self.query_one("#chart-readout", Static).update(readout)
        lo, hi = self.view or bounds or (0.0, 0.0)
        unit = "" if self.options.x_axis == "step" else "s"
        where = "all" if self.view is None else f"{lo:.0f}{unit}\N{EN DASH}{hi:.0f}{unit}"
        page = f"{self.metrics.index(self.metric) + 1}/{len(self.metrics)}" if self.metric in self.metrics else ""
        self.query_one("#chart-help", Static).update(
            f"{self.metric} {page} · {self.options.x_axis} {where} · +/- zoom · ←/→ cursor · shift+←/→ pan"
            " · 0 reset · [ ] metric"
        )
        self.draws += 1

    @on(RunUpdated)
    def _run_updated(self, message: RunUpdated) -> None:
        if message.session not in self.sessions or self._pending:
            return
        self._pending = True
        delay = self._last_draw + REDRAW_MIN_S - time.monotonic()
        if delay > 0:
            self.set_timer(delay, self._scheduled)
        else:  # a timer of 0 s divides by zero in textual
            self.call_later(self._scheduled)

    def _scheduled(self) -> None:
        self._pending = False
        self.redraw()

    def _span(self) -> tuple[tuple[float, float], tuple[float, float]] | None:
        """``(view, bounds)``: the x range shown and the data's, or ``None`` without data."""
        bounds = self.chart.x_bounds
        if bounds is None:
            return None
        return self.view or bounds, bounds

    def _set_view(self, view: tuple[float, float], bounds: tuple[float, float]) -> None:
        self.view = None if view[0] <= bounds[0] and view[1] >= bounds[1] else view
        self.redraw()

    def _zoom(self, factor: float) -> None:
        if (span := self._span()) is None or self.cursor is None:
            return
        self._set_view(zoom(span[0], span[1], self.cursor, factor), span[1])

    def action_zoom_in(self) -> None:
        """Halves the x range, around the cursor."""
        self._zoom(ZOOM_FACTOR)

    def action_zoom_out(self) -> None:
        """Doubles the x range, around the cursor."""
        self._zoom(1 / ZOOM_FACTOR)

    def _pan(self, share: float) -> None:
        if (span := self._span()) is None:
            return
        (lo, hi), bounds = span
        view = shift((lo, hi), bounds, share * (hi - lo))
        if self.cursor is not None:
            self.cursor = min(max(self.cursor, view[0]), view[1])
        self._set_view(view, bounds)

    def action_pan_left(self) -> None:
        """Moves the x range left by a quarter of its width."""
        self._pan(-PAN_SHARE)

    def action_pan_right(self) -> None:
        """Moves the x range right by a quarter of its width."""
        self._pan(PAN_SHARE)

    def _move_cursor(self, columns: int) -> None:
        if (span := self._span()) is None or self.cursor is None:
            return
        (lo, hi), bounds = span
        width = max(1, self.chart.size.width - self.chart.margin_left)
        step = (hi - lo) / width
        if self.options.x_axis == "step":
            step = max(1.0, round(step))
        self.cursor = min(max(self.cursor + columns * step, bounds[0]), bounds[1])
        view = (lo, hi)
        if self.cursor < lo:
            view = shift(view, bounds, self.cursor - lo)
        elif self.cursor > hi:
            view = shift(view, bounds, self.cursor - hi)
        self._set_view(view, bounds)

    def action_cursor_left(self) -> None:
        """Moves the cursor one column left (the view follows it)."""
        self._move_cursor(-1)

    def action_cursor_right(self) -> None:
        """Moves the cursor one column right (the view follows it)."""
        self._move_cursor(1)

    def action_reset_view(self) -> None:
        """Shows the whole x range again, the cursor at the newest point."""
        self.view = None
        self.cursor = None
        self.redraw()

    def action_toggle_clip(self) -> None:
        """Clips the y range to the robust percentiles (when a run diverges), or shows every value."""
        self.options = replace(self.options, clip=not self.options.clip)
        self.redraw()

    async def _step_metric(self, by: int) -> None:
        index = self.metrics.index(self.metric) if self.metric in self.metrics else 0
        self.metric = self.metrics[(index + by) % len(self.metrics)]
        old = self.chart
        await old.remove()
        await self.mount(MetricChart(self.metric, id="full-chart"), before=self.query_one("#chart-readout"))
        self.view = self.cursor = None
        await asyncio.sleep(0)
        self.call_after_refresh(self.redraw)

    async def action_prev_metric(self) -> None:
        """Shows the previous metric's chart."""
        await self._step_metric(-1)

    async def action_next_metric(self) -> None:
        """Shows the next metric's chart."""
        await self._step_metric(1)

    def action_back(self) -> None:
        """Back to the run view."""
        self.app.pop_screen()
