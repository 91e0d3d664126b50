"""The log pane: ``log`` events and engine stderr, colored by level."""

import re
import time

from rich.text import Text
from textual.widgets import RichLog

from xaxtui.state import RunState

LEVEL_STYLES = {"debug": "dim", "info": "", "warning": "yellow", "error": "bold red"}
_STDERR_PREFIX = re.compile(r"^\d\d:\d\d:\d\d(?:[.,]\d+)? +(?:DEBUG|INFO|WARNING|WARN|ERROR|CRITICAL):? +")


class LogPane(RichLog):
    """Appends only the log lines it has not shown yet (an engine stderr line loses its own time and level).

    Lines wrap: an error's reason and the path of its traceback come last and must not be cut.
    """

    DEFAULT_CSS = """
    LogPane { height: 1fr; }
    """

    def __init__(self, **kwargs: object) -> None:
        """Creates the pane."""
        super().__init__(wrap=True, markup=False, max_lines=2000, **kwargs)  # ty: ignore[invalid-argument-type]
        self._seen = 0

    def update_state(self, state: RunState) -> None:
        """Writes the lines added since the last call."""
        new = min(state.logs_total - self._seen, len(state.logs))
        self._seen = state.logs_total
        if new <= 0:
            return
        for t, level, message in list(state.logs)[-new:]:
            line = Text(time.strftime("%H:%M:%S ", time.localtime(t)), style="dim")
            line.append(f"{level:<4} ", style=LEVEL_STYLES.get(level, "") or "green")
            line.append(_STDERR_PREFIX.sub("", message, count=1), style=LEVEL_STYLES.get(level, ""))
            self.write(line)
