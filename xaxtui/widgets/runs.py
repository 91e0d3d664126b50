"""The runs table of the picker: status, last step, last loss; space marks runs to compare.

Once a Slurm run is listed, a ``slurm`` column shows each Slurm run's job as Slurm sees it: ``job 12 PENDING
(Priority)``, ``job 12 RUNNING on node[1-2]``, ``job 12 NODE_FAIL`` (only ``job 12`` where Slurm cannot be asked).
"""

import time

from rich.text import Text
from textual.widgets import DataTable

from xaxtui.catalog import RunInfo
from xaxtui.widgets.charts import run_color
from xaxtui.widgets.header import STATUS_STYLES
from xaxtui.widgets.tables import fit_columns


class RunsTable(DataTable):
    """One row per run, newest first; ``selected`` holds the keys of the marked runs."""

    DEFAULT_CSS = """
    RunsTable { height: 1fr; }
    """

    def __init__(self, **kwargs: object) -> None:
        """Creates the table."""
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)  # ty: ignore[invalid-argument-type]
        self.runs: dict[str, RunInfo] = {}
        self.selected: set[str] = set()

    def on_mount(self) -> None:
        """Adds the columns."""
        self.add_column(" ", key="mark")
        self.add_columns("task", "run id", "status", "step", "loss", "started")

    def show_runs(self, runs: list[RunInfo]) -> None:
        """Replaces the rows, keeping marks and the cursor on the same run."""
        current = self.current_key()
        self.clear()
        self.runs = {r.key: r for r in runs}
        self.selected &= set(self.runs)
        if any(r.slurm for r in runs) and "slurm" not in self.columns:
            self.add_column("slurm", key="slurm")  # after the rows are cleared: every row gets the cell
        rows = []
        for r in runs:
            state = Text(r.state + (" ●" if r.alive else ""), style=STATUS_STYLES.get(r.state, ""))
            loss = f"{r.last_loss:.4g}" if r.last_loss is not None else "-"
            started = time.strftime("%Y-%m-%d %H:%M", time.localtime(r.started_t))
            run_id = Text(r.run_id, style=run_color(r.run_id))
            row: tuple[str | Text, ...] = (self._mark(r.key), r.task, run_id, state, str(r.step), loss, started)
            if "slurm" in self.columns:
                row += (_slurm_cell(r),)
            self.add_row(*row, key=r.key)
            rows.append(row)
        fit_columns(self, rows)
        if current in self.runs:
            self.move_cursor(row=self.get_row_index(current))

    def _mark(self, key: str) -> Text:
        return Text("✓", style="bold green") if key in self.selected else Text(" ")

    def current_key(self) -> str | None:
        """The key of the run under the cursor."""
        if not self.row_count:
            return None
        return self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value

    def toggle_current(self) -> None:
        """Marks or unmarks the run under the cursor."""
        key = self.current_key()
        if key is None:
            return
        self.selected ^= {key}
        self.update_cell(key, "mark", self._mark(key))


def _slurm_cell(run: RunInfo) -> Text:
    """The run's job as Slurm sees it, coloured by the state it gives the run."""
    if run.slurm is None:
        return Text("")
    return Text(run.slurm.describe(), style=STATUS_STYLES.get(run.state, ""))
