"""The sweep view: one sweep's trials table and charts, read from its ``status.json`` every second.

The charts: the best-so-far curve, the running trials' objective curves overlaid (each trial's ``events.jsonl``
tailed and folded as the run view does, one stable color per trial) and a scatter of the objective against each
param. Enter on a trial opens its run in the run view; ``s`` stops the trial under the cursor (``xaxengine stop RUN``:
it checkpoints and stops), ``p`` prunes it (``xaxengine sweep prune``: the driver stops it as its pruner would and
records it pruned), ``+``/``-`` change how many trials run at once (``xaxengine sweep parallel``) and ``x`` stops the
sweep (``xaxengine sweep stop``; ``xaxengine sweep --resume`` continues it). A missing, partial or garbled
``status.json`` shows a one-line notice (the driver rewrites the file every second, so the next read usually shows
the sweep again).
"""

import math
from collections.abc import Callable
from pathlib import Path

from rich.markup import escape
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Grid
from textual.message import Message
from textual.widgets import DataTable, Footer, Static

from xaxtui import engine
from xaxtui.keys import bindings
from xaxtui.live_trials import LIVE_STATES, LiveTrials
from xaxtui.messages import OpenRunRequested
from xaxtui.screens.base import ScopedScreen
from xaxtui.sweep_space import ParamAxis, param_axes, read_space
from xaxtui.sweeps import SweepStatus, format_value, read_sweep, trial_run_dir
from xaxtui.widgets.best_curve import BestCurve
from xaxtui.widgets.charts import PALETTE
from xaxtui.widgets.lifecycle import leaving
from xaxtui.widgets.live_curves import LiveCurves
from xaxtui.widgets.param_scatter import ParamScatter
from xaxtui.widgets.trials import TrialsTable

POLL_S = 1.0  # the driver rewrites status.json every second
LIVE_DRAW_S = 0.25  # the live curves are redrawn at most this often
MAX_SCATTERS = 4
CHART_ROW_MIN = 10  # rows a chart needs to be worth its place; fewer fit: the charts go side by side instead


class ChartGrid(Grid):
    """The sweep view's charts: as many rows of them as fit :data:`CHART_ROW_MIN` each, the columns to hold them all."""

    def on_resize(self) -> None:
        """Lays the charts out for the new size."""
        self.lay_out()

    def lay_out(self) -> None:
        """Sets the number of columns from the charts and the height."""
        rows = max(1, self.size.height // CHART_ROW_MIN)
        self.styles.grid_size_columns = max(1, math.ceil(len(self.children) / rows))


class SweepRead(Message):
    """The poll worker read the sweep (and its search space)."""

    def __init__(self, sweep: SweepStatus, space: list[ParamAxis]) -> None:
        super().__init__()
        self.sweep = sweep
        self.space = space


class LiveEvents(Message):
    """A running trial's source has new events waiting."""


class SweepScreen(ScopedScreen):
    """Shows one sweep folder; :attr:`reads_shown` and :attr:`live_draws` count what was drawn (tests wait on them)."""

    KEY_SCOPE = "sweep"
    BINDINGS = bindings(KEY_SCOPE)
    AUTO_FOCUS = "#trials"

    def __init__(self, sweep_dir: Path) -> None:
        """Watches the sweep in ``sweep_dir``."""
        super().__init__()
        self.sweep_dir = sweep_dir
        self.sweep: SweepStatus | None = None
        self.axes: list[ParamAxis] = []
        self.reads_shown = 0
        self.live_draws = 0
        self.parallel_asked: int | None = None
        self.live = LiveTrials(lambda: self.post_message(LiveEvents()), PALETTE)
        self._live_due = False

    def compose(self) -> ComposeResult:
        """Title and notice lines, the trials table above the charts, footer."""
        yield Static(id="sweep-title")
        yield Static(id="sweep-notice")
        yield TrialsTable(id="trials")
        with ChartGrid(id="sweep-charts"):
            yield BestCurve(id="best-curve")
            yield LiveCurves(id="live-curves")
        yield Footer()

    def on_mount(self) -> None:
        """Reads now and every :data:`POLL_S` seconds."""
        if leaving(self):
            return  # popped before its Mount was handled: the children are gone
        self.query_one("#sweep-title", Static).update(f"[b]sweep[/b] {escape(self.sweep_dir.name)}   (reading...)")
        self.query_one("#sweep-notice", Static).display = False
        self.query_one(BestCurve).border_title = "best so far"
        self.query_one(LiveCurves).border_title = "running trials"
        self.poll()
        self.set_interval(POLL_S, self.poll)

    def on_unmount(self) -> None:
        """Stops following the running trials."""
        self.live.close()

    @work(thread=True, exclusive=True, exit_on_error=False, group="sweep-read")
    def poll(self) -> None:
        """Reads ``status.json`` and the search space in a thread."""
        self.post_message(SweepRead(read_sweep(self.sweep_dir), read_space(self.sweep_dir)))

    async def on_sweep_read(self, message: SweepRead) -> None:
        """Shows what was read (the table and charts only when it changed)."""
        sweep = message.sweep
        old = self.sweep
        changed = old is None or (sweep.rows, sweep.best, sweep.objective, sweep.direction) != (
            old.rows,
            old.best,
            old.objective,
            old.direction,
        )
        self.sweep = sweep
        if self.parallel_asked is not None and sweep.parallel == self.parallel_asked:
            self.parallel_asked = None  # the driver took it up
        self.query_one("#sweep-title", Static).update(title_text(sweep, self.parallel_asked))
        notice = self.query_one("#sweep-notice", Static)
        notice.update(f"[yellow]{escape(sweep.notice)}[/yellow]")
        notice.display = bool(sweep.notice)
        if changed:
            self.query_one(TrialsTable).show_sweep(sweep)
            self.query_one(BestCurve).show_sweep(sweep)
            await self._show_scatters(sweep, param_axes(sweep, message.space))
        if self.live.sync(sweep) or changed:
            self._draw_live()
        self.reads_shown += 1

    async def _show_scatters(self, sweep: SweepStatus, axes: list[ParamAxis]) -> None:
        axes = axes[:MAX_SCATTERS]
        grid = self.query_one(ChartGrid)
        if axes != self.axes:
            self.axes = axes
            await grid.query(ParamScatter).remove()
            charts = [ParamScatter(axis) for axis in axes]
            for chart in charts:
                chart.border_title = chart.axis.name
            await grid.mount_all(charts)
            grid.lay_out()
        for chart in grid.query(ParamScatter):
            chart.show(sweep)

    def on_live_events(self) -> None:
        """Folds the running trials' new events; draws them at most every :data:`LIVE_DRAW_S`."""
        if self.live.drain() and not self._live_due:
            self._live_due = True
            self.set_timer(LIVE_DRAW_S, self._draw_live)

    def _draw_live(self) -> None:
        self._live_due = False
        objective = self.sweep.objective if self.sweep is not None else ""
        self.query_one(LiveCurves).show(objective, self.live.curves(objective), self.live.label_colors())
        self.live_draws += 1

    @on(DataTable.RowSelected)
    def action_open_trial(self) -> None:
        """Opens the run of the trial under the cursor."""
        trial = self.query_one(TrialsTable).current_trial()
        if trial is None or self.sweep is None:
            return
        run_dir = trial_run_dir(self.sweep, trial)
        if run_dir is None:
            self.notify(f"trial {trial.number} has no run dir with events here yet", severity="warning")
            return
        self.post_message(OpenRunRequested(run_dir))

    def action_stop_trial(self) -> None:
        """Stops the engine of the trial under the cursor."""
        trial = self.query_one(TrialsTable).current_trial()
        run_dir = trial_run_dir(self.sweep, trial) if trial is not None and self.sweep is not None else None
        if trial is None or run_dir is None:
            self.notify("no trial with a run dir under the cursor", severity="warning")
            return
        self._engine_call(f"stopping trial {trial.number}", "stop", str(run_dir))

    def action_prune_trial(self) -> None:
        """Asks the driver to prune the trial under the cursor (it checkpoints, stops, and is recorded pruned)."""
        trial = self.query_one(TrialsTable).current_trial()
        if trial is None or trial.state not in LIVE_STATES:
            what = f"trial {trial.number} is {trial.state}" if trial is not None else "no trial under the cursor"
            self.notify(f"{what}: only a running trial can be pruned", severity="warning")
            return
        self._engine_call(f"pruning trial {trial.number}", "sweep", "prune", str(self.sweep_dir), str(trial.number))

    def action_raise_parallel(self) -> None:
        """Asks the sweep's drivers to run one more trial at once."""
        self._ask_parallel(+1)

    def action_lower_parallel(self) -> None:
        """Asks the sweep's drivers to run one trial fewer at once (running trials are not stopped)."""
        self._ask_parallel(-1)

    def _ask_parallel(self, change: int) -> None:
        now = self.parallel_asked or (self.sweep.parallel if self.sweep is not None else None)
        if now is None:
            self.notify("the driver has not said how many trials it runs at once yet", severity="warning")
            return
        wanted = now + change
        if wanted < 1:
            self.notify("parallel is 1 already (stop the sweep with x)", severity="warning")
            return

        def asked() -> None:
            self.parallel_asked = wanted
            if self.sweep is not None:
                self.query_one("#sweep-title", Static).update(title_text(self.sweep, wanted))

        self._engine_call(f"parallel {wanted}", "sweep", "parallel", str(self.sweep_dir), str(wanted), then=asked)

    def action_stop_sweep(self) -> None:
        """Stops the sweep's drivers (they stop their trials, which checkpoint)."""
        self._engine_call("stopping the sweep", "sweep", "stop", str(self.sweep_dir))

    @work(thread=True, exit_on_error=False, group="sweep-control")
    def _engine_call(self, what: str, *args: str, then: Callable[[], None] | None = None) -> None:
        """Runs ``xaxengine ARGS`` off the UI thread and says how it went in one notification (then calls ``then``)."""
        try:
            said = engine.call(*args).strip().splitlines()
        except engine.EngineError as error:
            self.app.call_from_thread(self.notify, f"{what}: {error}", severity="error")
            return
        if then is not None:
            self.app.call_from_thread(then)
        self.app.call_from_thread(self.notify, said[-1] if said else what)

    def action_back(self) -> None:
        """Goes back to the previous screen."""
        self.app.pop_screen()


def title_text(sweep: SweepStatus, parallel_asked: int | None = None) -> str:
    """``sweep ID  running  3/6 done  parallel 2  valid/accuracy ↑  best 0.93 (trial 2)`` as markup."""
    trials = sweep.trials if sweep.trials is not None else "?"
    arrow = "↑" if sweep.maximize else "↓"
    text = f"[b]sweep[/b] {escape(sweep.sweep_id)}  {sweep.state}  {sweep.done}/{trials} done"
    if sweep.parallel is not None:
        text += f"  parallel {sweep.parallel}"
        if parallel_asked is not None and parallel_asked != sweep.parallel:
            text += f" (→ {parallel_asked} asked)"
    text += f"  {escape(sweep.objective or 'objective ?')} {arrow}"
    if sweep.best is None:
        return text + "  best: none yet"
    return text + f"  best [b green]{format_value(sweep.best.value)}[/b green] (trial {sweep.best.number})"
