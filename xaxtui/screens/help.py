"""The ``?`` screen: the current screen's keys first, each with what it does, then every other scope's (no list here).

Every row comes from :data:`xaxtui.keys.KEYS`: the key as typed, its footer label, and its one-line help.
"""

from rich.cells import cell_len
from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from xaxtui.keys import KEYS, SCOPES, SCREEN_SCOPES, bindings, display_key, keys_for


def scope_order(scope: str) -> list[str]:
    """The scopes in the order help lists them: ``scope``, the app's, the panes' (on a full screen), the others."""
    first = [s for s in (scope, "app", "focus" if scope in SCREEN_SCOPES else "") if s in SCOPES]
    return [*dict.fromkeys(first), *(s for s in SCOPES if s not in first)]


def help_table(scope: str = "") -> Group:
    """Every registered key, one table per scope, ``scope``'s first: key, label, what it does (aligned across them)."""
    key_width = min(12, max(cell_len(display_key(k.key)) for k in KEYS))  # longer ones wrap
    label_width = min(18, max(cell_len(k.description) for k in KEYS))
    tables = []
    for name in scope_order(scope):
        title = SCOPES[name] + (" (this screen)" if name == scope else "")
        table = Table(
            box=None, show_header=False, padding=(0, 1), expand=True, title_justify="left", title_style="bold magenta"
        )
        table.title = title
        table.add_column(style="cyan", width=key_width)
        table.add_column(style="bold", width=label_width)
        table.add_column(ratio=1)
        for k in keys_for(name):
            table.add_row(Text(display_key(k.key)), Text(k.description), Text(k.help))  # text, not markup ([user@])
        tables.append(table)
    return Group(*tables)


class HelpScreen(ModalScreen[None]):
    """Lists the keys of the screen it was opened from first; any of escape, q or ? closes it."""

    KEY_SCOPE = "help"
    BINDINGS = bindings(KEY_SCOPE)

    def __init__(self, scope: str = "") -> None:
        """Opens the list with the keys of ``scope`` (the key scope of the screen below) first."""
        super().__init__()
        self.scope = scope

    def compose(self) -> ComposeResult:
        """The table in a scrolling box."""
        with VerticalScroll(id="help-box"):
            title = SCOPES.get(self.scope, "xax-tui")
            yield Static(f"[b]Keys: {title}[/b]  (esc closes · ↑/↓ pgup/pgdn scroll · ctrl+p searches actions)\n")
            yield Static(help_table(self.scope), id="help-table")

    def action_close(self) -> None:
        """Closes the screen."""
        self.dismiss(None)
