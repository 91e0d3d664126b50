"""Waits for a run dir that does not exist yet (``xax-tui RUN_DIR`` before the engine made it), then opens it.

It checks every :data:`POLL_S` for ``RUN_DIR/events.jsonl`` and replaces itself with the run view when it appears.
"""

from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Footer, Static

from xaxtui.keys import bindings
from xaxtui.messages import OpenRunRequested, ShowRunsRequested
from xaxtui.screens.base import ScopedScreen

POLL_S = 0.2


class WaitingScreen(ScopedScreen):
    """Says which path it waits for; opens the run view once its ``events.jsonl`` exists."""

    KEY_SCOPE = "waiting"
    BINDINGS = bindings(KEY_SCOPE)

    def __init__(self, run_dir: Path) -> None:
        """Waits for ``run_dir``."""
        super().__init__()
        self.run_dir = run_dir

    def compose(self) -> ComposeResult:
        """One message."""
        text = Text()
        text.append("waiting for the run to start: ", style="bold")
        text.append(str(self.run_dir))
        text.append("\nthe run view opens when its events.jsonl appears (esc: list the runs instead, q: quit)")
        yield Static(text, id="waiting-message")
        yield Footer()

    def on_mount(self) -> None:
        """Polls for the run's events file."""
        self.set_interval(POLL_S, self._check)

    def _check(self) -> None:
        if (self.run_dir / "events.jsonl").exists() and self.is_current:
            self.app.pop_screen()
            self.app.post_message(OpenRunRequested(self.run_dir))

    def action_back(self) -> None:
        """Lists the runs of the runs dir instead."""
        self.app.pop_screen()
        self.app.post_message(ShowRunsRequested())
