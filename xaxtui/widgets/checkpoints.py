"""Checkpoint history: step, time, size, save time, kept or deleted."""

import time

from textual.widgets import DataTable

from xaxengine.protocol import decimal_bytes
from xaxtui.state import RunState
from xaxtui.widgets.tables import fit_columns


class CheckpointTable(DataTable):
    """One row per ``checkpoint`` event; a step not in the latest ``kept`` list shows as deleted."""

    DEFAULT_CSS = """
    CheckpointTable { height: 1fr; }
    """

    def __init__(self, **kwargs: object) -> None:
        """Creates the table."""
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)  # ty: ignore[invalid-argument-type]
        self._shown: tuple[int, tuple[int, ...]] = (-1, ())

    def on_mount(self) -> None:
        """Adds the columns."""
        self.add_columns("step", "time", "size", "save", "on disk")

    def update_state(self, state: RunState) -> None:
        """Rebuilds the rows when a checkpoint arrived or the kept set changed."""
        shown = (len(state.checkpoints), tuple(state.kept))
        if shown == self._shown:
            return
        self._shown = shown
        self.clear()
        kept = set(state.kept)
        rows = []
        for ev in reversed(state.checkpoints):
            step = int(ev.get("step", 0))
            when = time.strftime("%H:%M:%S", time.localtime(float(ev.get("t", 0.0))))
            size = decimal_bytes(float(ev.get("bytes") or 0))
            save = f"{float(ev.get('save_s') or 0):.2f}s"
            rows.append((str(step), when, size, save, "kept" if step in kept else "deleted"))
        self.add_rows(rows)
        fit_columns(self, rows)
