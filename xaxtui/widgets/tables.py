"""DataTable helpers shared by the tables of the views (checkpoints, runs, sweeps, trials)."""

from collections.abc import Sequence

from rich.cells import cell_len
from rich.text import Text
from textual.widgets import DataTable


def fit_columns(table: DataTable, rows: Sequence[Sequence[str | Text]]) -> None:
    """Widens auto-width columns to the cells just added, at once.

    DataTable measures new rows only when it is next idle; a frame painted before that is cached with the old
    column widths and stays on screen (truncated cells) until something else changes. Measuring here avoids it.

    Args:
        table: The table the rows were added to.
        rows: The cells of the added rows, in column order.
    """
    for column, cells in zip(table.ordered_columns, zip(*rows, strict=False), strict=False):
        widths = [c.cell_len if isinstance(c, Text) else cell_len(c) for c in cells]
        column.content_width = max(column.content_width, *widths)


def cursor_row_key(table: DataTable) -> str | None:
    """The key of the row under the table's cursor (None when the table is empty)."""
    if not table.row_count:
        return None
    return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
