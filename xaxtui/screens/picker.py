"""The run picker: every run under the runs dir; enter opens one, space marks several to compare."""

from pathlib import Path
from typing import TYPE_CHECKING, cast

from textual import on, work
from textual.app import ComposeResult
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from xaxtui.catalog import RunInfo, scan_runs
from xaxtui.keys import bindings
from xaxtui.widgets.runs import RunsTable

if TYPE_CHECKING:
    from xaxtui.app import XaxTui


class RunsScanned(Message):
    """The scan worker found these runs."""

    def __init__(self, runs: list[RunInfo]) -> None:
        super().__init__()
        self.runs = runs


class PickerScreen(Screen[None]):
    """Lists runs (heads and tails of their ``events.jsonl``; no engine needed)."""

    BINDINGS = bindings("picker")

    def __init__(self, runs_dir: Path) -> None:
        """Lists the runs under ``runs_dir``."""
        super().__init__()
        self.runs_dir = runs_dir

    @property
    def xax(self) -> "XaxTui":
        """The app, typed."""
        return cast("XaxTui", self.app)

    def compose(self) -> ComposeResult:
        """Title line, table, footer."""
        yield Static(id="picker-title")
        yield RunsTable(id="runs")
        yield Footer()

    def on_mount(self) -> None:
        """Scans now and every few seconds."""
        self.query_one("#picker-title", Static).update(f"[b]runs[/b] in {self.runs_dir}   (scanning...)")
        self.action_refresh()
        self.set_interval(3.0, self.action_refresh)

    @work(thread=True, exclusive=True, exit_on_error=False, group="scan")
    def action_refresh(self) -> None:
        """Rescans the runs dir in a thread."""
        self.post_message(RunsScanned(scan_runs(self.runs_dir)))

    def on_runs_scanned(self, message: RunsScanned) -> None:
        """Shows the scan."""
        self.query_one(RunsTable).show_runs(message.runs)
        live = sum(r.alive for r in message.runs)
        title = f"[b]runs[/b] in {self.runs_dir}   {len(message.runs)} runs, {live} live"
        self.query_one("#picker-title", Static).update(title)

    def action_toggle_select(self) -> None:
        """Marks the run under the cursor for comparison."""
        self.query_one(RunsTable).toggle_current()

    @on(DataTable.RowSelected)
    def action_open_run(self) -> None:
        """Opens the run under the cursor."""
        key = self.query_one(RunsTable).current_key()
        if key:
            self.xax.show_runs([Path(key)])

    def action_compare(self) -> None:
        """Opens the marked runs (or the one under the cursor) on shared charts."""
        table = self.query_one(RunsTable)
        keys = [k for k in table.runs if k in table.selected] or [table.current_key()]
        self.xax.show_runs([Path(k) for k in keys if k])

    def action_new_run(self) -> None:
        """Opens the config editor on a task file to launch a new run."""
        self.xax.open_config_prompt()
