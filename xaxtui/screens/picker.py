"""The run picker: every run under the runs dir and on added ssh hosts; enter opens one, space marks several."""

from collections.abc import Sequence
from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.message import Message
from textual.widgets import DataTable, Footer, Static

from xaxtui.catalog import PENDING, RunInfo, scan_runs
from xaxtui.keys import bindings
from xaxtui.messages import (
    AddRemoteRequested,
    CompareRequested,
    EditConfigRequested,
    OpenRunRequested,
    RemotesChanged,
    ShowSweepsRequested,
)
from xaxtui.remote import RemoteError, RemoteHost
from xaxtui.screens.base import ScopedScreen
from xaxtui.screens.dialogs import PathPrompt
from xaxtui.widgets.runs import RunsTable


class RunsScanned(Message):
    """The scan worker found these runs."""

    def __init__(self, runs: list[RunInfo], errors: list[str] | None = None) -> None:
        super().__init__()
        self.runs = runs
        self.errors = errors or []


class PickerScreen(ScopedScreen):
    """Lists local runs (heads and tails of their ``events.jsonl``) and remote ones (``ssh HOST xaxengine ls``)."""

    KEY_SCOPE = "picker"
    BINDINGS = bindings(KEY_SCOPE)

    def __init__(self, runs_dir: Path, remotes: Sequence[RemoteHost] = ()) -> None:
        """Lists the runs under ``runs_dir`` and on ``remotes`` (the app's list: hosts added later appear)."""
        super().__init__()
        self.runs_dir = runs_dir
        self.remotes = remotes
        self.scans_shown = 0
        self._errors: set[str] = set()

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
        """Rescans the runs dir and every remote host in a thread."""
        runs: list[RunInfo] = scan_runs(self.runs_dir)
        errors = []
        for host in list(self.remotes):
            try:
                runs += host.list_runs()
            except RemoteError as error:
                errors.append(str(error))
        self.post_message(RunsScanned(sorted(runs, key=lambda r: r.started_t, reverse=True), errors))

    def on_runs_scanned(self, message: RunsScanned) -> None:
        """Shows the scan (and, once per new error, what went wrong with a remote host)."""
        self.query_one(RunsTable).show_runs(message.runs)
        live = sum(r.alive for r in message.runs)
        where = ", ".join([str(self.runs_dir), *(h.target.label for h in self.remotes)])
        pending = sum(r.state == PENDING for r in message.runs)
        title = f"[b]runs[/b] in {where}   {len(message.runs)} runs, {live} live"
        title += f", {pending} pending in Slurm" if pending else ""
        if message.errors:
            title += f"   [red]{message.errors[0]}[/red]"
        for error in set(message.errors) - self._errors:
            self.notify(error, severity="error", timeout=10)
        self._errors = set(message.errors)
        self.query_one("#picker-title", Static).update(title)
        self.scans_shown += 1

    def action_toggle_select(self) -> None:
        """Marks the run under the cursor for comparison."""
        self.query_one(RunsTable).toggle_current()

    @on(DataTable.RowSelected)
    def action_open_run(self) -> None:
        """Opens the run under the cursor."""
        table = self.query_one(RunsTable)
        key = table.current_key()
        if key:
            self.post_message(OpenRunRequested(table.runs[key]))

    def action_compare(self) -> None:
        """Opens the marked runs (or the one under the cursor) on shared charts."""
        table = self.query_one(RunsTable)
        keys = [k for k in table.runs if k in table.selected] or [table.current_key()]
        self.post_message(CompareRequested([table.runs[k] for k in keys if k]))

    def action_new_run(self) -> None:
        """Opens the config editor on a task file to launch a new run."""
        default = next(iter(sorted(Path("tasks").glob("*.toml"))), Path("task.toml"))

        def opened(answer: str | None) -> None:
            if answer and Path(answer).is_file():
                self.post_message(EditConfigRequested(Path(answer)))
            elif answer:
                self.notify(f"no such file: {answer}", severity="error")

        self.app.push_screen(PathPrompt("task file to edit and launch:", str(default)), opened)

    @on(RemotesChanged)
    def _remotes_changed(self) -> None:
        self.action_refresh()

    def action_add_remote(self) -> None:
        """Asks for ``[user@]host[:port][:/path/to/runs]`` and lists that host's runs too."""

        def added(answer: str | None) -> None:
            if answer:
                self.post_message(AddRemoteRequested(answer))

        self.app.push_screen(PathPrompt("remote runs: [user@]host[:port][:/path/to/runs]", ""), added)

    def action_show_sweeps(self) -> None:
        """Shows the sweeps under the runs dir."""
        self.post_message(ShowSweepsRequested())
