"""The sweeps table of the sweep list: id, state, progress, best value, objective and direction."""

from rich.text import Text
from textual.widgets import DataTable

from xaxtui.keys import table_enter
from xaxtui.sweeps import SweepStatus, format_value
from xaxtui.widgets.header import STATUS_STYLES
from xaxtui.widgets.tables import cursor_row_key, fit_columns


class SweepsTable(DataTable):
    """One row per sweep folder, newest first; ``sweeps`` maps row keys (sweep ids) to what was read."""

    BINDINGS = table_enter("sweeps")  # ty: ignore[invalid-assignment]

    DEFAULT_CSS = """
    SweepsTable { height: 1fr; }
    """

    def __init__(self, **kwargs: object) -> None:
        """Creates the table."""
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)  # ty: ignore[invalid-argument-type]
        self.sweeps: dict[str, SweepStatus] = {}

    def on_mount(self) -> None:
        """Adds the columns."""
        self.add_columns("sweep", "state", "done", "best", "objective", "best trial", "notice")

    def show_sweeps(self, sweeps: list[SweepStatus]) -> None:
        """Replaces the rows, keeping the cursor on the same sweep."""
        current = cursor_row_key(self)
        self.clear()
        self.sweeps = {s.sweep_id: s for s in sweeps}
        rows = []
        for s in sweeps:
            arrow = "↑" if s.maximize else "↓"
            row = (
                s.sweep_id,
                Text(s.state, style=STATUS_STYLES.get(s.state, "")),
                f"{s.done}/{s.trials if s.trials is not None else '?'}",
                format_value(s.best.value if s.best else None),
                f"{s.objective or '-'} {arrow}",
                str(s.best.number) if s.best else "-",
                Text(s.notice, style="yellow"),
            )
            self.add_row(*row, key=s.sweep_id)
            rows.append(row)
        fit_columns(self, rows)
        if current in self.sweeps:
            self.move_cursor(row=self.get_row_index(current))

    def current_sweep(self) -> SweepStatus | None:
        """The sweep under the cursor."""
        key = cursor_row_key(self)
        return self.sweeps.get(key) if key is not None else None
