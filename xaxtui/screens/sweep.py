"""The sweep view: one sweep's trials table and best-so-far curve, read from its ``status.json`` every second.

Enter on a trial opens its run in the run view; ``s`` stops the trial under the cursor (``xaxengine stop RUN``: it
checkpoints and stops) and ``x`` stops the sweep (``xaxengine sweep stop``: its drivers stop their trials, which
checkpoint; ``xaxengine sweep --resume`` continues it). A missing, partial or garbled ``status.json`` shows a
one-line notice (the driver rewrites the file every second, so the next read usually shows the sweep again).
"""

from pathlib import Path

from rich.markup import escape
from textual import on, work
from textual.app import ComposeResult
from textual.message import Message
from textual.widgets import DataTable, Footer, Static

from xaxtui import engine
from xaxtui.keys import bindings
from xaxtui.messages import OpenRunRequested
from xaxtui.screens.base import ScopedScreen
from xaxtui.sweeps import SweepStatus, format_value, read_sweep, trial_run_dir
from xaxtui.widgets.best_curve import BestCurve
from xaxtui.widgets.trials import TrialsTable

POLL_S = 1.0  # the driver rewrites status.json every second


class SweepRead(Message):
    """The poll worker read the sweep."""

    def __init__(self, sweep: SweepStatus) -> None:
        super().__init__()
        self.sweep = sweep


class SweepScreen(ScopedScreen):
    """Shows one sweep folder; :attr:`reads_shown` counts the reads drawn (tests wait on it)."""

    KEY_SCOPE = "sweep"
    BINDINGS = bindings(KEY_SCOPE)
    AUTO_FOCUS = "#trials"

    def __init__(self, sweep_dir: Path) -> None:
        """Watches the sweep in ``sweep_dir``."""
        super().__init__()
        self.sweep_dir = sweep_dir
        self.sweep: SweepStatus | None = None
        self.reads_shown = 0

    def compose(self) -> ComposeResult:
        """Title and notice lines, the trials table above the best-so-far chart, footer."""
        yield Static(id="sweep-title")
        yield Static(id="sweep-notice")
        yield TrialsTable(id="trials")
        yield BestCurve(id="best-curve")
        yield Footer()

    def on_mount(self) -> None:
        """Reads now and every :data:`POLL_S` seconds."""
        self.query_one("#sweep-title", Static).update(f"[b]sweep[/b] {escape(self.sweep_dir.name)}   (reading...)")
        self.query_one("#sweep-notice", Static).display = False
        self.query_one(BestCurve).border_title = "best so far"
        self.poll()
        self.set_interval(POLL_S, self.poll)

    @work(thread=True, exclusive=True, exit_on_error=False, group="sweep-read")
    def poll(self) -> None:
        """Reads ``status.json`` in a thread."""
        self.post_message(SweepRead(read_sweep(self.sweep_dir)))

    def on_sweep_read(self, message: SweepRead) -> None:
        """Shows what was read (the table and chart only when it changed)."""
        sweep = message.sweep
        changed = self.sweep is None or (sweep.rows, sweep.best, sweep.objective, sweep.direction) != (
            self.sweep.rows,
            self.sweep.best,
            self.sweep.objective,
            self.sweep.direction,
        )
        self.sweep = sweep
        self.query_one("#sweep-title", Static).update(title_text(sweep))
        notice = self.query_one("#sweep-notice", Static)
        notice.update(f"[yellow]{escape(sweep.notice)}[/yellow]")
        notice.display = bool(sweep.notice)
        if changed:
            self.query_one(TrialsTable).show_sweep(sweep)
            self.query_one(BestCurve).show_sweep(sweep)
        self.reads_shown += 1

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
        self._engine_call(f"trial {trial.number}", "stop", str(run_dir))

    def action_stop_sweep(self) -> None:
        """Stops the sweep's drivers (they stop their trials, which checkpoint)."""
        self._engine_call("the sweep", "sweep", "stop", str(self.sweep_dir))

    @work(thread=True, exit_on_error=False, group="sweep-stop")
    def _engine_call(self, what: str, *args: str) -> None:
        """Runs ``xaxengine ARGS`` off the UI thread and says how it went in one notification."""
        try:
            said = engine.call(*args).strip().splitlines()
        except engine.EngineError as error:
            self.app.call_from_thread(self.notify, f"stopping {what}: {error}", severity="error")
            return
        self.app.call_from_thread(self.notify, said[-1] if said else f"stopping {what}")

    def action_back(self) -> None:
        """Goes back to the previous screen."""
        self.app.pop_screen()


def title_text(sweep: SweepStatus) -> str:
    """``sweep ID  running  3/6 done  valid/accuracy ↑  best 0.93 (trial 2)`` as markup (the best row is starred)."""
    trials = sweep.trials if sweep.trials is not None else "?"
    arrow = "↑" if sweep.maximize else "↓"
    text = f"[b]sweep[/b] {escape(sweep.sweep_id)}  {sweep.state}  {sweep.done}/{trials} done"
    text += f"  {escape(sweep.objective or 'objective ?')} {arrow}"
    if sweep.best is None:
        return text + "  best: none yet"
    return text + f"  best [b green]{format_value(sweep.best.value)}[/b green] (trial {sweep.best.number})"
