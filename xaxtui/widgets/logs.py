"""The log pane: the lines of :attr:`RunState.logs <xaxtui.state.RunState.logs>`, colored by level.

What the lines are (one rendering of events, plus the engine's stderr lines that are not echoes of events) is
decided in :mod:`xaxtui.loglines` and :mod:`xaxtui.state`; this widget only draws them. It opens at the end and
follows new lines while it is scrolled to the end; scrolled up, it stays where the reader is.
"""

import math
import time

from rich.text import Text
from textual.events import Resize
from textual.widgets import RichLog

from xaxtui.state import RunState

LEVEL_STYLES = {"debug": "dim", "info": "", "warning": "yellow", "error": "bold red"}


def render_line(t: float, level: str, message: str) -> Text:
    """One pane line: local time, level, message."""
    stamp = time.strftime("%H:%M:%S ", time.localtime(t)) if math.isfinite(t) else "--:--:-- "
    line = Text(stamp, style="dim")
    line.append(f"{level:<4} ", style=LEVEL_STYLES.get(level, "") or "green")
    line.append(message, style=LEVEL_STYLES.get(level, ""))
    return line


class LogPane(RichLog):
    """Appends only the log lines it has not shown yet; draws them all again when the state took one out.

    Lines wrap: an error's reason and the path of its traceback come last and must not be cut.
    """

    DEFAULT_CSS = """
    LogPane { height: 1fr; }
    """

    def __init__(self, **kwargs: object) -> None:
        """Creates the pane."""
        super().__init__(wrap=True, markup=False, max_lines=2000, auto_scroll=False, **kwargs)  # ty: ignore[invalid-argument-type]
        self._seen = 0
        self._rewrites = 0
        self.following = True

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        """Follows new lines again once the reader scrolls back to the end; stops when they scroll away from it."""
        super().watch_scroll_y(old_value, new_value)
        self.following = new_value >= self.max_scroll_y

    def on_resize(self, event: Resize) -> None:
        """Writes the lines that waited for a size; stays at the end when it was there."""
        super().on_resize(event)
        if self.following:
            self.scroll_end(animate=False, immediate=False, x_axis=False)

    def update_state(self, state: RunState) -> None:
        """Writes the lines added since the last call (all of them after a rewrite), following them at the end."""
        if state.logs_rewrites != self._rewrites:
            self._rewrites = state.logs_rewrites
            following = self.following
            self.clear()
            self.following = following
            new = len(state.logs)
        else:
            new = min(state.logs_total - self._seen, len(state.logs))
        self._seen = state.logs_total
        if new <= 0:
            return
        for t, level, message in list(state.logs)[-new:]:
            self.write(render_line(t, level, message), scroll_end=False)
        if self.following:
            self.scroll_end(animate=False, immediate=False, x_axis=False)
