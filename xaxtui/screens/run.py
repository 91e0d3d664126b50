"""The run view: header, charts, stats, checkpoint history and logs of one run (plus runs compared with it).

It redraws when the app posts :class:`~xaxtui.messages.RunUpdated` for one of its sessions, at most every
:data:`REDRAW_MIN_S` (a burst of updates gets one draw now and one trailing draw, so the last update always shows);
nothing polls. :attr:`RunScreen.drawn` is set once the latest update is on screen (tests and tools wait on it, or on
:attr:`RunScreen.is_settled`, which also asks that the charts fit the current size).
"""

import asyncio
import time
from dataclasses import replace
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Footer, Input

from xaxtui.keys import bindings
from xaxtui.messages import CheckpointRequested, ResumeRequested, RunUpdated, ShowRunsRequested, StopRequested
from xaxtui.run_overview import FAILED_STATES
from xaxtui.screens.base import ScopedScreen
from xaxtui.screens.chart import ChartScreen
from xaxtui.screens.config_diff import ConfigDiffScreen
from xaxtui.screens.overview import OverviewScreen
from xaxtui.session import RunSession
from xaxtui.state import RunState
from xaxtui.widgets.charts import SMOOTHING, ChartPane, MetricChart
from xaxtui.widgets.checkpoints import CheckpointTable
from xaxtui.widgets.config_diff import labelled
from xaxtui.widgets.header import RunHeader
from xaxtui.widgets.lifecycle import leaving
from xaxtui.widgets.logs import LogPane
from xaxtui.widgets.stats import StatsPane

REDRAW_MIN_S = 0.05  # at most 20 redraws a second
CLOCK_S = 0.5  # a live run's elapsed time ticks in the header between updates


class RunScreen(ScopedScreen):
    """Watches ``sessions[0]``; the other sessions are drawn on the same charts for comparison."""

    KEY_SCOPE = "run"
    BINDINGS = bindings(KEY_SCOPE)
    AUTO_FOCUS = "#checkpoints"

    def __init__(self, sessions: list[RunSession]) -> None:
        """Creates the view of ``sessions`` (the first one is the main run)."""
        super().__init__()
        self.sessions = sessions
        self.drawn = asyncio.Event()
        self.drawn_versions: tuple[int, ...] = ()
        self._stale = True
        self._scheduled = False
        self._last_draw = -1.0
        self.draws = 0

    @property
    def session(self) -> RunSession:
        """The main run."""
        return self.sessions[0]

    def compose(self) -> ComposeResult:
        """Header, charts beside stats and checkpoints, logs at the bottom."""
        yield RunHeader(id="run-header")
        with Horizontal(id="run-top"):
            yield ChartPane(id="charts")
            with Vertical(id="run-side"):
                yield StatsPane(id="stats")
                yield CheckpointTable(id="checkpoints")
        yield LogPane(id="logs")
        yield Input(placeholder="metric regex (enter to apply, empty for all)", id="metric-filter")
        yield Footer()

    def on_mount(self) -> None:
        """Draws once; later draws follow :class:`RunUpdated`."""
        if leaving(self):
            return  # popped before its Mount was handled: the children are gone
        self.query_one("#metric-filter", Input).display = False
        self.query_one("#charts", ChartPane).border_title = "metrics"
        self.query_one("#checkpoints", CheckpointTable).border_title = "checkpoints"
        self.query_one("#logs", LogPane).border_title = "logs"
        self.query_one("#stats", StatsPane).border_title = "system"
        self.set_interval(CLOCK_S, self._tick_clock)
        self.call_after_refresh(self.request_redraw)

    def action_zoom_pane(self) -> None:
        """Fills the screen with the focused pane (the logs when none has focus), or back to the layout."""
        if self.maximized is not None:
            self.minimize()
            return
        pane = self.focused or self.query_one("#logs", LogPane)
        self.maximize(pane, container=False)

    @property
    def versions(self) -> tuple[int, ...]:
        """How many batches each session has folded."""
        return tuple(s.version for s in self.sessions)

    @property
    def live(self) -> bool:
        """Whether the main run may still change."""
        return not self.session.state.finished and not self.session.ended

    @property
    def is_settled(self) -> bool:
        """The latest fold of every session is drawn, no redraw is pending, and the charts fit the current size."""
        return self.drawn.is_set() and self.drawn_versions == self.versions and self.query_one(ChartPane).fits_size

    @on(RunUpdated)
    async def _run_updated(self, message: RunUpdated) -> None:
        if message.session not in self.sessions:
            return
        if not self._scheduled and time.monotonic() >= self._last_draw + REDRAW_MIN_S:
            await self._draw()  # the common case of a live run: draw in this handler, no extra hop
        else:
            self.request_redraw()

    def request_redraw(self) -> None:
        """Redraws soon: now if the last draw is :data:`REDRAW_MIN_S` old, else when it will be (one timer)."""
        self._stale = True
        self.drawn.clear()
        if self._scheduled:
            return
        self._scheduled = True
        delay = self._last_draw + REDRAW_MIN_S - time.monotonic()
        if delay > 0:
            self.set_timer(delay, self._scheduled_redraw)
        else:
            self.call_later(self._scheduled_redraw)

    async def _scheduled_redraw(self) -> None:
        self._scheduled = False
        await self._draw()

    async def _draw(self) -> None:
        """Draws everything; sets :attr:`drawn` unless an update came in meanwhile (its draw is scheduled)."""
        self._last_draw = time.monotonic()
        self._stale = False
        self.drawn.clear()
        await self.refresh_view()
        if not self._stale and not self._scheduled:
            self.drawn.set()

    def _tick_clock(self) -> None:
        if self.live:
            self.query_one(RunHeader).update_state(self.session.state, self.header_extra(), True)

    async def refresh_view(self) -> None:
        """Draws every pane from the sessions' current state (at once: callers throttle)."""
        versions = self.versions
        state = self.session.state
        live = self.live
        self.query_one(RunHeader).update_state(state, self.header_extra(), live)
        self.query_one(StatsPane).update_state(state)
        self.query_one(CheckpointTable).update_state(state)
        self.query_one(LogPane).update_state(state)
        await self.query_one(ChartPane).redraw(self.named_runs())  # may mount charts
        self.drawn_versions = versions
        self.draws += 1

    def named_runs(self) -> list[tuple[str, RunState]]:
        """``(label, state)`` of every session: alone its own name, compared by what differs in the configs."""
        return labelled([(s.label, s.state) for s in self.sessions])

    def header_extra(self) -> str:
        """Compared runs (by their labels), whether the engine is ours, a remote link that is not up, a failure."""
        parts = []
        if self.session.link not in ("", "connected"):
            parts.append(self.session.link)
        if len(self.sessions) > 1:
            labels = [label for label, _ in self.named_runs()]
            parts.append(f"comparing {len(labels)} runs (d: config diff): {' · '.join(labels)}")
        if self.session.process_alive:
            parts.append("launched here")
        if self.session.state.status in FAILED_STATES:
            parts.append("o: traceback")
        return " · ".join(parts)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The config diff is there only when runs are compared (the footer hides its key otherwise)."""
        del parameters
        return len(self.sessions) > 1 if action == "config_diff" else True

    def action_config_diff(self) -> None:
        """Opens the table of the config keys whose values differ across the compared runs."""
        if len(self.sessions) > 1:
            self.app.push_screen(ConfigDiffScreen(self.sessions))

    def action_open_overview(self) -> None:
        """Opens the run overview: config, versions, host, git, devices, and a failed run's traceback."""
        self.app.push_screen(OverviewScreen(self.session))

    @on(RunHeader.Clicked)
    def _header_clicked(self) -> None:
        self.action_open_overview()

    async def _set_options(self, **changes: Any) -> None:
        pane = self.query_one(ChartPane)
        pane.options = replace(pane.options, **changes)
        await self._draw()

    async def action_toggle_log_y(self) -> None:
        """Switches the y axis between linear and log10."""
        await self._set_options(log_y=not self.query_one(ChartPane).options.log_y)

    async def action_toggle_x_axis(self) -> None:
        """Switches the x axis between step and wall time."""
        await self._set_options(x_axis="time" if self.query_one(ChartPane).options.x_axis == "step" else "step")

    async def action_cycle_smoothing(self) -> None:
        """Steps through the EMA smoothing weights."""
        current = self.query_one(ChartPane).options.smoothing
        await self._set_options(smoothing=SMOOTHING[(SMOOTHING.index(current) + 1) % len(SMOOTHING)])

    async def action_toggle_clip(self) -> None:
        """Clips the y range of a diverging run to its robust percentiles, or shows every value."""
        await self._set_options(clip=not self.query_one(ChartPane).options.clip)

    async def action_prev_charts(self) -> None:
        """Shows the previous page of charts when not all metrics fit."""
        await self.query_one(ChartPane).turn_page(-1)

    async def action_next_charts(self) -> None:
        """Shows the next page of charts when not all metrics fit."""
        await self.query_one(ChartPane).turn_page(1)

    def action_open_chart(self, metric: str = "") -> None:
        """Opens a chart full screen (the first one shown, unless ``metric`` names another)."""
        pane = self.query_one(ChartPane)
        metric = metric or next(iter(pane.metrics), "")
        if metric:
            self.app.push_screen(ChartScreen(self.sessions, metric, pane.matching, pane.options))

    @on(MetricChart.Selected)
    def _chart_clicked(self, message: MetricChart.Selected) -> None:
        self.action_open_chart(message.metric)

    def action_filter_metrics(self) -> None:
        """Opens the metric filter input."""
        box = self.query_one("#metric-filter", Input)
        box.display = True
        box.value = self.query_one(ChartPane).options.pattern
        box.focus()

    @on(Input.Submitted, "#metric-filter")
    async def apply_filter(self, event: Input.Submitted) -> None:
        """Applies the typed regex and hides the input."""
        event.input.display = False
        await self._set_options(pattern=event.value.strip())

    def action_back(self) -> None:
        """Closes the filter, or goes back to the previous screen."""
        box = self.query_one("#metric-filter", Input)
        if box.display:
            box.display = False
        elif len(self.app.screen_stack) > 2:
            self.app.pop_screen()
        else:
            self.post_message(ShowRunsRequested())

    def action_open_media(self) -> None:
        """Opens the media screen: logged images, text samples and histograms of the main run."""
        from xaxtui.screens.media import MediaScreen

        self.app.push_screen(MediaScreen(self.session))

    def action_stop_run(self) -> None:
        """Graceful stop: SIGTERM to an engine launched here, else ``xaxengine stop``."""
        self.post_message(StopRequested(self.session))

    def action_checkpoint_now(self) -> None:
        """Asks the engine for a checkpoint now."""
        self.post_message(CheckpointRequested(self.session))

    def action_resume_run(self) -> None:
        """Resumes a stopped run in its directory and follows it here."""
        self.post_message(ResumeRequested(self.session))
