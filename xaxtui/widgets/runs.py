"""The runs table of the picker: status, step, losses, duration, the config values that differ, tags.

Space marks runs to compare. The config keys whose values differ between the listed runs get a column each
(:mod:`xaxtui.widgets.run_columns`), as many as fit. Rows can be sorted by any column and filtered; archived runs are
hidden unless asked for. Once a Slurm run is listed, a ``slurm`` column shows each Slurm run's job as Slurm sees it:
``job 12 PENDING (Priority)``, ``job 12 RUNNING on node[1-2]``, ``job 12 NODE_FAIL`` (only ``job 12`` where Slurm
cannot be asked).
"""

from collections.abc import Iterable

from rich.cells import cell_len
from rich.text import Text
from textual.widgets import DataTable
from textual.widgets.data_table import RowKey

from xaxtui.catalog import RunInfo
from xaxtui.keys import table_enter
from xaxtui.widgets.header import STATUS_STYLES
from xaxtui.widgets.palette import run_color, series_color
from xaxtui.widgets.run_columns import (
    CONFIG_COLUMN,
    differing_keys,
    duration_text,
    loss_text,
    matches,
    short_label,
    sort_key,
    started_text,
    value_text,
)
from xaxtui.widgets.tables import fit_columns

LEAD = ("run id", "status")  # before the diff columns, so a narrow terminal shows what tells runs apart
TRAIL = ("best valid", "loss", "step", "duration", "tags", "started", "task")
FIXED = (*LEAD, *TRAIL)


class RunsTable(DataTable):
    """One row per shown run; ``selected`` holds the keys of the marked runs, ``runs`` the shown ones by key.

    Attributes:
        all_runs: Every run of the last scan (archived and filtered-out ones included).
        diff_keys: The dotted config keys shown as columns.
        sort_column: The column the rows are sorted by (``started`` at first, newest first).
        sort_reverse: Whether the order is descending.
        filter_text: The filter (see :func:`~xaxtui.widgets.run_columns.matches`); empty shows every run.
        show_archived: Whether archived runs are listed.
    """

    BINDINGS = table_enter("picker")  # ty: ignore[invalid-assignment]

    DEFAULT_CSS = """
    RunsTable { height: 1fr; }
    """

    def __init__(self, **kwargs: object) -> None:
        """Creates the table."""
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)  # ty: ignore[invalid-argument-type]
        self.runs: dict[str, RunInfo] = {}
        self.all_runs: list[RunInfo] = []
        self.selected: set[str] = set()
        self.diff_keys: list[str] = []
        self.sort_column = "started"
        self.sort_reverse = True
        self.filter_text = ""
        self.show_archived = False
        self._layout: tuple[str, ...] = ()
        self.rebuilds = 0  # how many times the rows were built (a rescan finding the same runs builds none)

    def on_mount(self) -> None:
        """Colors the run ids again when the theme changes."""
        self.watch(self.app, "theme", self._theme_changed, init=False)

    def _theme_changed(self, _theme: str) -> None:
        self.call_after_refresh(self.refresh_rows)

    def columns_in_order(self) -> list[str]:
        """The sortable columns' keys, as shown: run id and status, the diff keys (``config:NAME``), then the rest."""
        return [*LEAD, *(CONFIG_COLUMN + k for k in self.diff_keys), *TRAIL]

    def show_runs(self, runs: list[RunInfo]) -> None:
        """Replaces the runs (a new scan), keeping marks, sort, filter and the cursor on the same run.

        A scan that found exactly the runs shown changes nothing (the picker rescans every 3 s; rebuilding 1,000 rows
        costs the UI a few hundred milliseconds each time).
        """
        if self._layout and runs == self.all_runs:
            return
        self.all_runs = list(runs)
        self.refresh_rows()

    def shown_runs(self) -> list[RunInfo]:
        """The runs that pass the archive switch and the filter, in the chosen order (missing values last)."""
        listed = [r for r in self.all_runs if self.show_archived or not r.archived]
        shown = [r for r in listed if not self.filter_text or matches(r, self.filter_text, self.diff_keys)]
        keyed = [(sort_key(r, self.sort_column), r) for r in shown]
        present = sorted((kr for kr in keyed if kr[0][0] == 0), key=lambda kr: kr[0], reverse=self.sort_reverse)
        return [r for _, r in present] + [r for key, r in keyed if key[0] != 0]

    def refresh_rows(self) -> None:
        """Rebuilds the rows (and the columns, when the differing keys changed) from :attr:`all_runs`."""
        self.rebuilds += 1
        current = self.current_key()
        listed = [r for r in self.all_runs if self.show_archived or not r.archived]
        fixed_rows = [self._fixed_cells(r) for r in listed]
        fixed_width = sum(max([cell_len(c), *(_width(row[i]) for row in fixed_rows)]) + 2 for i, c in enumerate(FIXED))
        width = self.size.width or self.app.size.width
        self.diff_keys = differing_keys(listed, max(width - fixed_width - 3, width // 3))  # a third at least
        if self.sort_column not in self.columns_in_order():
            self.sort_column, self.sort_reverse = "started", True
        shown = self.shown_runs()
        slurm = any(r.slurm for r in self.all_runs)
        layout = (*self.columns_in_order(), *(("slurm",) if slurm else ()), self.sort_column, str(self.sort_reverse))
        self.clear(columns=layout != self._layout)
        if layout != self._layout:
            self._add_columns(slurm)
            self._layout = layout
        self.runs = {r.key: r for r in shown}
        self.selected &= {r.key for r in self.all_runs}
        rows = []
        for r in shown:
            cells = self._fixed_cells(r)
            row = (self._mark(r.key), *cells[: len(LEAD)], *self._diff_cells(r), *cells[len(LEAD) :])
            if slurm:
                row += (_slurm_cell(r),)
            self.add_row(*row, key=r.key)
            rows.append(row)
        fit_columns(self, rows)
        if current in self.runs:
            self.move_cursor(row=self.get_row_index(current))

    def _update_dimensions(self, new_rows: Iterable[RowKey]) -> None:
        """Sizes the table without measuring each new cell again: :meth:`refresh_rows` fit the columns to the rows.

        DataTable measures every cell of the rows added since it was last idle, on the UI thread: 13 columns of
        1,000 runs took longer than the scan that found them. Every row here is one line high and unlabelled, so
        only the virtual size is left to update.
        """
        del new_rows
        super()._update_dimensions(())

    def _add_columns(self, slurm: bool) -> None:
        self.add_column(" ", key="mark")
        for key in self.columns_in_order():
            config = key.startswith(CONFIG_COLUMN)
            label = short_label(key.removeprefix(CONFIG_COLUMN)) if config else key
            arrow = (" ▼" if self.sort_reverse else " ▲") if key == self.sort_column else ""
            self.add_column(Text(label + arrow, style="bold cyan" if config else ""), key=key)
        if slurm:
            self.add_column("slurm", key="slurm")

    def _fixed_cells(self, r: RunInfo) -> tuple[str | Text, ...]:
        state = Text(r.state + (" ●" if r.alive else ""), style=STATUS_STYLES.get(r.state, ""))
        color = series_color(run_color(r.run_id), self.background_colors[1].rgb, "series")  # readable on any theme
        run_id = Text(r.run_id + (" (archived)" if r.archived else ""), style=color)
        loss, best, tags = loss_text(r.last_loss), loss_text(r.best_valid_loss), ", ".join(r.tags)
        return (
            run_id,
            state,
            best,
            loss,
            str(r.step),
            duration_text(r.duration_s),
            tags,
            started_text(r.started_t),
            r.task,
        )

    def _diff_cells(self, r: RunInfo) -> tuple[str, ...]:
        return tuple(value_text(r.config.get(k)) for k in self.diff_keys)

    def cycle_sort(self) -> None:
        """Sorts by the next column (ascending; numbers and times as numbers)."""
        order = self.columns_in_order()
        self.sort_column = order[(order.index(self.sort_column) + 1) % len(order)]
        self.sort_reverse = False
        self.refresh_rows()

    def reverse_sort(self) -> None:
        """Reverses the order."""
        self.sort_reverse = not self.sort_reverse
        self.refresh_rows()

    def _mark(self, key: str) -> Text:
        return Text("✓", style="bold green") if key in self.selected else Text(" ")

    def current_key(self) -> str | None:
        """The key of the run under the cursor."""
        if not self.row_count:
            return None
        return self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value

    def current_run(self) -> RunInfo | None:
        """The run under the cursor."""
        key = self.current_key()
        return self.runs.get(key) if key else None

    def toggle_current(self) -> None:
        """Marks or unmarks the run under the cursor."""
        key = self.current_key()
        if key is None:
            return
        self.selected ^= {key}
        self.update_cell(key, "mark", self._mark(key))


def _width(cell: str | Text) -> int:
    return cell.cell_len if isinstance(cell, Text) else cell_len(cell)


def _slurm_cell(run: RunInfo) -> Text:
    """The run's job as Slurm sees it, coloured by the state it gives the run."""
    if run.slurm is None:
        return Text("")
    return Text(run.slurm.describe(), style=STATUS_STYLES.get(run.state, ""))
