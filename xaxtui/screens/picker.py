"""The run picker: every run under the runs dir and on added ssh hosts; enter opens one, space marks several.

``o``/``O`` sort, ``/`` filters, and a local run can be tagged, noted, archived or deleted (:mod:`xaxtui.screens.
run_notes`, which writes ``RUN_DIR/notes.json``).
"""

from collections.abc import Sequence
from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.markup import escape
from textual.message import Message
from textual.widgets import DataTable, Footer, Input, Static

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
from xaxtui.screens.run_notes import RunNotesActions
from xaxtui.widgets.runs import RunsTable


class RunsScanned(Message):
    """The scan worker found these runs."""

    def __init__(self, runs: list[RunInfo], errors: list[str] | None = None) -> None:
        super().__init__()
        self.runs = runs
        self.errors = errors or []


class PickerScreen(RunNotesActions, ScopedScreen):
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
        yield Input(placeholder="filter: text, or key=value (lr=0.002 tags=best); enter applies", id="runs-filter")
        yield Footer()

    def on_mount(self) -> None:
        """Scans now and every few seconds."""
        self.query_one("#picker-title", Static).update(f"[b]runs[/b] in {self.runs_dir}   (scanning...)")
        self.query_one("#runs-filter", Input).display = False
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
        for error in set(message.errors) - self._errors:
            self.notify(error, severity="error", timeout=10)
        self._errors = set(message.errors)
        self.show_title()
        self.scans_shown += 1

    def show_title(self) -> None:
        """Where, how many runs (live, pending, archived, shown by the filter), the sort, the first error."""
        table = self.query_one(RunsTable)
        runs = table.all_runs
        live = sum(r.alive for r in runs)
        where = ", ".join([str(self.runs_dir), *(h.target.label for h in self.remotes)])
        pending = sum(r.state == PENDING for r in runs)
        archived = sum(r.archived for r in runs)
        title = f"[b]runs[/b] in {where}   {len(runs)} runs, {live} live"
        title += f", {pending} pending in Slurm" if pending else ""
        if archived:
            title += f", {archived} archived" + (" (shown)" if table.show_archived else " (hidden, H shows)")
        if table.filter_text:
            title += f"   filter [b]{escape(table.filter_text)}[/b]: {len(table.runs)} shown"
        if self._errors:
            title += f"   [red]{escape(sorted(self._errors)[0])}[/red]"
        self.query_one("#picker-title", Static).update(title)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """While the filter input has focus, ``enter`` is the input's (it applies the filter), not Open."""
        if action == "open_run" and self.query_one("#runs-filter", Input).has_focus:
            return False
        return super().check_action(action, parameters)

    def action_cycle_sort(self) -> None:
        """Sorts by the next column."""
        self.query_one(RunsTable).cycle_sort()

    def action_reverse_sort(self) -> None:
        """Reverses the sort."""
        self.query_one(RunsTable).reverse_sort()

    def action_filter_runs(self) -> None:
        """Opens the filter input under the table."""
        field = self.query_one("#runs-filter", Input)
        field.display = True
        field.value = self.query_one(RunsTable).filter_text
        field.focus()

    def action_close_filter(self) -> None:
        """Clears the filter and hides its input (nothing to do while it is closed)."""
        field = self.query_one("#runs-filter", Input)
        if not field.display:
            return
        field.value = ""  # Input.Changed clears the table's filter
        field.display = False
        self.query_one(RunsTable).focus()

    @on(Input.Changed, "#runs-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        table = self.query_one(RunsTable)
        table.filter_text = event.value.strip()
        table.refresh_rows()
        self.show_title()

    @on(Input.Submitted, "#runs-filter")
    def _filter_done(self, event: Input.Submitted) -> None:
        event.stop()
        self.query_one("#runs-filter", Input).display = bool(event.value.strip())
        self.query_one(RunsTable).focus()

    def action_toggle_archived(self) -> None:
        """Shows or hides archived runs."""
        table = self.query_one(RunsTable)
        table.show_archived = not table.show_archived
        table.refresh_rows()
        self.show_title()

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
