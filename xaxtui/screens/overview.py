"""The run overview: host, git, devices and versions from ``run_start``, the config, a failed run's traceback.

It shows the full config with a filter, and for a failed (or dead) run the traceback from ``stdout.log``.

Opened from the run view with ``o`` or by clicking its header. ``stdout.log`` is read in a thread (over ssh for a
remote run, :func:`~xaxtui.run_overview.read_stdout`); until it is read the pane says so, and a file that is missing
or unreadable is one line. The screen follows :class:`~xaxtui.messages.RunUpdated` of its run (a run that fails while
it is open gets its traceback).
"""

from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Footer, Input, Static

from xaxtui.keys import bindings
from xaxtui.messages import RunUpdated
from xaxtui.run_overview import FAILED_STATES, StdoutLog, config_rows, facts, read_stdout
from xaxtui.screens.base import ScopedScreen
from xaxtui.session import RunSession
from xaxtui.widgets.config_diff import flat_config
from xaxtui.widgets.header import STATUS_STYLES

READING = "reading stdout.log …"


class OverviewScreen(ScopedScreen):
    """The overview of ``session``'s run."""

    KEY_SCOPE = "overview"
    BINDINGS = bindings(KEY_SCOPE)
    AUTO_FOCUS = "#overview-config"
    DEFAULT_CSS = """
    OverviewScreen #overview-title { height: 1; padding: 0 1; background: $boost; }
    OverviewScreen #overview-facts { height: auto; max-height: 9; padding: 0 1; }
    OverviewScreen #overview-failure { height: 1fr; min-height: 4; border: round $error 60%; }
    OverviewScreen #overview-failure.-ok { display: none; }
    OverviewScreen #overview-traceback { padding: 0 1; }
    OverviewScreen #overview-config { height: 1fr; min-height: 4; border: round $secondary 50%; }
    OverviewScreen #overview-filter { margin: 0 1; }
    """

    def __init__(self, session: RunSession) -> None:
        """Creates the overview of ``session``."""
        super().__init__()
        self.session = session
        self.stdout: StdoutLog | None = None  # set once read (tests and tools wait on it)
        self.config_shown: list[tuple[str, str]] = []  # the config rows on screen
        self._reading = False
        self._read_for: str | None = None  # the status the stdout.log read was for
        self._config_for: int | None = None  # id() of the run_start the table shows

    def compose(self) -> ComposeResult:
        """Title, facts, the failure, the config filter and table."""
        yield Static(id="overview-title")
        yield Static(id="overview-facts")
        with VerticalScroll(id="overview-failure"):
            yield Static(id="overview-traceback")
        yield Input(placeholder="filter config keys and values (/)", id="overview-filter", compact=True)
        yield DataTable(id="overview-config", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        """Draws what is known and starts reading ``stdout.log`` for a failed run."""
        table = self.query_one("#overview-config", DataTable)
        table.add_column("key", key="key")
        table.add_column("value", key="value")
        self.redraw()

    @on(RunUpdated)
    def _run_updated(self, message: RunUpdated) -> None:
        if message.session is self.session:
            self.redraw()

    @property
    def failed(self) -> bool:
        """Whether the run failed (or its engine died): then the overview shows ``stdout.log``."""
        return self.session.state.status in FAILED_STATES

    def redraw(self) -> None:
        """Redraws the title and facts; refills the config on a new ``run_start``; reads stdout.log on failure."""
        state = self.session.state
        title = Text(no_wrap=True, overflow="ellipsis")
        title.append("overview ", style="bold")
        title.append(f"{state.task.rpartition(':')[2] or state.task or '?'} ", style="bold")
        title.append(state.run_id or self.session.label, style="dim")
        title.append("  ")
        title.append(f" {state.status} ", style=STATUS_STYLES.get(state.status, "reverse"))
        self.query_one("#overview-title", Static).update(title)
        grid = Table.grid(padding=(0, 1))
        grid.add_column(style="bold", no_wrap=True)
        grid.add_column(overflow="fold")
        for name, value in facts(self.session):
            grid.add_row(name, Text(value, style="red" if name == "status" and self.failed else ""))
        self.query_one("#overview-facts", Static).update(grid)
        if self._config_for != id(state.run_start):
            self._config_for = id(state.run_start)
            self.show_config()
        box = self.query_one("#overview-failure", VerticalScroll)
        box.set_class(not self.failed, "-ok")
        if self.failed and self._read_for != state.status and not self._reading:
            self._read_stdout()

    def show_config(self) -> None:
        """Fills the config table with the entries that match the filter."""
        config = flat_config(self.session.state)
        query = self.query_one("#overview-filter", Input).value
        self.config_shown = config_rows(config, query)
        table = self.query_one("#overview-config", DataTable)
        table.clear()
        for key, value in self.config_shown:
            table.add_row(key, value, key=key)
        if not config:
            table.border_title = "config: unknown (no run_start yet)"
        elif query.strip():
            table.border_title = f"config · {len(self.config_shown)} of {len(config)} keys match {query.strip()!r}"
        else:
            table.border_title = f"config · {len(config)} keys"

    @on(Input.Changed, "#overview-filter")
    def _filter_changed(self) -> None:
        self.show_config()

    @on(Input.Submitted, "#overview-filter")
    def _filter_submitted(self) -> None:
        self.query_one("#overview-config", DataTable).focus()

    def action_filter_config(self) -> None:
        """Moves the focus to the config filter."""
        self.query_one("#overview-filter", Input).focus()

    def action_back(self) -> None:
        """Leaves the filter (clearing it), or goes back to the run view."""
        box = self.query_one("#overview-filter", Input)
        if box.has_focus and box.value:
            box.value = ""
            return
        self.app.pop_screen()

    def _read_stdout(self) -> None:
        self._reading = True
        self._read_for = self.session.state.status
        box = self.query_one("#overview-failure", VerticalScroll)
        box.border_title = READING
        session = self.session

        def read() -> None:
            try:
                got = read_stdout(session)
            except Exception as error:  # whatever goes wrong is one line, never a crash
                got = StdoutLog("stdout.log", None, f"cannot read: {error!r}")
            self.app.call_from_thread(self._show_stdout, got)

        self.run_worker(read, thread=True, exit_on_error=False, group="stdout")

    def _show_stdout(self, got: StdoutLog) -> None:
        self._reading = False
        title, body = got.failure()
        box = self.query_one("#overview-failure", VerticalScroll)
        box.border_title = title
        text = Text(body) if body else Text(title, style="yellow")
        self.query_one("#overview-traceback", Static).update(text)
        box.scroll_end(animate=False)  # the exception line is the last one
        self.stdout = got
