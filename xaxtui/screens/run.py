"""The run view: header, charts, stats, checkpoint history and logs of one run (plus runs compared with it)."""

from dataclasses import replace
from typing import TYPE_CHECKING, Any, cast

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Input

from xaxtui.keys import bindings
from xaxtui.session import RunSession
from xaxtui.widgets.charts import SMOOTHING, ChartPane
from xaxtui.widgets.checkpoints import CheckpointTable
from xaxtui.widgets.header import RunHeader
from xaxtui.widgets.logs import LogPane
from xaxtui.widgets.stats import StatsPane

if TYPE_CHECKING:
    from xaxtui.app import XaxTui

REFRESH_S = 0.1


class RunScreen(Screen[None]):
    """Watches ``sessions[0]``; the other sessions are drawn on the same charts for comparison."""

    BINDINGS = bindings("run")
    AUTO_FOCUS = "#checkpoints"

    def __init__(self, sessions: list[RunSession]) -> None:
        """Creates the view of ``sessions`` (the first one is the main run)."""
        super().__init__()
        self.sessions = sessions
        self._versions: tuple[int, ...] = ()

    @property
    def session(self) -> RunSession:
        """The main run."""
        return self.sessions[0]

    @property
    def xax(self) -> "XaxTui":
        """The app, typed."""
        return cast("XaxTui", self.app)

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
        """Draws once, then polls the sessions for changes."""
        self.query_one("#metric-filter", Input).display = False
        self.query_one("#charts", ChartPane).border_title = "metrics"
        self.query_one("#checkpoints", CheckpointTable).border_title = "checkpoints"
        self.query_one("#logs", LogPane).border_title = "logs"
        self.query_one("#stats", StatsPane).border_title = "system"
        self.set_interval(REFRESH_S, self.refresh_view)
        self.call_after_refresh(self.refresh_view, True)

    async def refresh_view(self, force: bool = False) -> None:
        """Redraws the panes when any session changed (or when forced)."""
        versions = tuple(s.version for s in self.sessions)
        live = not self.session.state.finished and not self.session.ended
        if versions == self._versions and not force:
            if live:
                self.query_one(RunHeader).update_state(self.session.state, self.header_extra(), live)
            return
        self._versions = versions
        state = self.session.state
        self.query_one(RunHeader).update_state(state, self.header_extra(), live)
        await self.query_one(ChartPane).redraw([(s.label, s.state) for s in self.sessions])
        self.query_one(StatsPane).update_state(state)
        self.query_one(CheckpointTable).update_state(state)
        self.query_one(LogPane).update_state(state)

    def header_extra(self) -> str:
        """Compared runs, whether the engine is ours, and a remote link that is not up."""
        parts = []
        if self.session.link not in ("", "connected"):
            parts.append(self.session.link)
        if len(self.sessions) > 1:
            parts.append(f"comparing {len(self.sessions)} runs")
        if self.session.process_alive:
            parts.append("launched here")
        return " · ".join(parts)

    async def _set_options(self, **changes: Any) -> None:
        pane = self.query_one(ChartPane)
        pane.options = replace(pane.options, **changes)
        await self.refresh_view(True)

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
            self.xax.action_open_picker()

    def action_stop_run(self) -> None:
        """Graceful stop: SIGTERM to an engine launched here, else ``xaxengine stop``."""
        self.xax.stop_session(self.session)

    def action_checkpoint_now(self) -> None:
        """Asks the engine for a checkpoint now."""
        self.xax.checkpoint_session(self.session)

    def action_resume_run(self) -> None:
        """Resumes a stopped run in its directory and follows it here."""
        self.xax.resume_session(self.session)
