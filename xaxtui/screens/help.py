"""The ``?`` screen: every key of the registry, grouped by scope (no hand-written list)."""

from rich.table import Table
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from xaxtui.keys import KEYS, SCOPES, bindings, display_key


def help_table() -> Table:
    """A table of all registered keys."""
    table = Table(box=None, show_header=False, padding=(0, 2))
    table.add_column(style="bold")
    table.add_column(style="cyan")
    table.add_column()
    for scope, title in SCOPES.items():
        rows = [k for k in KEYS if k.scope == scope]
        for i, k in enumerate(rows):
            table.add_row(title if i == 0 else "", display_key(k.key), k.description)
    return table


class HelpScreen(ModalScreen[None]):
    """Lists the keys; any of escape, q or ? closes it."""

    KEY_SCOPE = "help"
    BINDINGS = bindings(KEY_SCOPE)

    def compose(self) -> ComposeResult:
        """The table in a scrolling box."""
        with VerticalScroll(id="help-box"):
            yield Static("[b]xax-tui keys[/b]  (esc to close)\n")
            yield Static(help_table())

    def action_close(self) -> None:
        """Closes the screen."""
        self.dismiss(None)
