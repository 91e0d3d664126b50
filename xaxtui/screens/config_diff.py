"""The compare view's config diff: the keys whose values differ across the compared runs, one column per run.

Opened from a run view that compares runs (``d``). Columns are headed by the runs' compare labels (the legends'
names, :func:`~xaxtui.widgets.config_diff.compare_labels`); the first row holds the run ids. It refills when a run's
``run_start`` arrives while it is open.
"""

from textual import on
from textual.app import ComposeResult
from textual.widgets import Footer, Static

from xaxtui.keys import bindings
from xaxtui.messages import RunUpdated
from xaxtui.screens.base import ScopedScreen
from xaxtui.session import RunSession
from xaxtui.widgets.config_diff import ConfigDiffTable, compare_labels, compared, diff_summary


class ConfigDiffScreen(ScopedScreen):
    """The config diff of ``sessions`` (the compare view's runs, in its order)."""

    KEY_SCOPE = "diff"
    BINDINGS = bindings(KEY_SCOPE)
    AUTO_FOCUS = "#config-diff"
    DEFAULT_CSS = """
    ConfigDiffScreen #diff-title { height: 1; padding: 0 1; background: $boost; }
    ConfigDiffScreen #config-diff { height: 1fr; border: round $primary 50%; }
    """

    def __init__(self, sessions: list[RunSession]) -> None:
        """Creates the diff of ``sessions``."""
        super().__init__()
        self.sessions = sessions
        self.labels: list[str] = []
        self.rows: list[tuple[str, list[str]]] = []  # the differing keys shown, with each run's value
        self._shown_for: tuple[int, ...] = ()

    def compose(self) -> ComposeResult:
        """A summary line, the table."""
        yield Static(id="diff-title")
        yield ConfigDiffTable(id="config-diff", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        """Fills the table."""
        self.query_one(ConfigDiffTable).border_title = "config diff"
        self.refill()

    @on(RunUpdated)
    def _run_updated(self, message: RunUpdated) -> None:
        if message.session in self.sessions:
            self.refill()

    def refill(self) -> None:
        """Rebuilds the table when a run's ``run_start`` changed since the last fill."""
        token = tuple(id(s.state.run_start) for s in self.sessions)
        if token == self._shown_for:
            return
        self._shown_for = token
        runs = compared([(s.label, s.state) for s in self.sessions])
        self.labels = compare_labels(runs)
        self.rows = self.query_one(ConfigDiffTable).show(runs, self.labels)
        self.query_one("#diff-title", Static).update(diff_summary(runs, self.rows))

    def action_back(self) -> None:
        """Back to the compare view."""
        self.app.pop_screen()
