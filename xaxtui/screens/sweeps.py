"""The sweep list: every sweep folder under ``RUNS_DIR/sweeps`` (``w`` in the picker); enter opens one."""

from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.message import Message
from textual.widgets import DataTable, Footer, Static

from xaxtui.keys import bindings
from xaxtui.messages import OpenSweepRequested
from xaxtui.screens.base import ScopedScreen
from xaxtui.sweeps import SweepStatus, scan_sweeps, sweeps_root
from xaxtui.widgets.sweeps import SweepsTable

SCAN_S = 2.0


class SweepsScanned(Message):
    """The scan worker read these sweeps."""

    def __init__(self, sweeps: list[SweepStatus]) -> None:
        super().__init__()
        self.sweeps = sweeps


class SweepsScreen(ScopedScreen):
    """Lists the sweeps of a runs dir (their ``status.json``), rescanned every :data:`SCAN_S` seconds."""

    KEY_SCOPE = "sweeps"
    BINDINGS = bindings(KEY_SCOPE)

    def __init__(self, runs_dir: Path) -> None:
        """Lists the sweeps under ``runs_dir/sweeps``."""
        super().__init__()
        self.runs_dir = runs_dir
        self.scans_shown = 0

    def compose(self) -> ComposeResult:
        """Title line, table, footer."""
        yield Static(id="sweeps-title")
        yield SweepsTable(id="sweeps")
        yield Footer()

    def on_mount(self) -> None:
        """Scans now and every few seconds."""
        self.query_one("#sweeps-title", Static).update(f"[b]sweeps[/b] in {sweeps_root(self.runs_dir)}   (scanning...)")
        self.action_refresh()
        self.set_interval(SCAN_S, self.action_refresh)

    @work(thread=True, exclusive=True, exit_on_error=False, group="sweep-scan")
    def action_refresh(self) -> None:
        """Reads every sweep's ``status.json`` in a thread."""
        self.post_message(SweepsScanned(scan_sweeps(self.runs_dir)))

    def on_sweeps_scanned(self, message: SweepsScanned) -> None:
        """Shows the scan."""
        self.query_one(SweepsTable).show_sweeps(message.sweeps)
        live = sum(s.state == "running" for s in message.sweeps)
        title = f"[b]sweeps[/b] in {sweeps_root(self.runs_dir)}   {len(message.sweeps)} sweeps, {live} running"
        if not message.sweeps:
            title += "   (none yet: start one with `xaxengine sweep FILE.sweep.toml`)"
        self.query_one("#sweeps-title", Static).update(title)
        self.scans_shown += 1

    @on(DataTable.RowSelected)
    def action_open_sweep(self) -> None:
        """Opens the sweep under the cursor."""
        sweep = self.query_one(SweepsTable).current_sweep()
        if sweep is not None:
            self.post_message(OpenSweepRequested(sweep.dir))

    def action_back(self) -> None:
        """Goes back to the previous screen."""
        self.app.pop_screen()
