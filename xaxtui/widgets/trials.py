"""The trials table of the sweep view: a row per trial (state, step, objective, params, reason, run), best starred.

Rows are sorted by objective, best first by the sweep's direction; trials without a value (running, failed,
pruned before reporting) follow in trial order.
"""

from pathlib import Path

from rich.text import Text
from textual.widgets import DataTable

from xaxtui.keys import table_enter
from xaxtui.sweeps import SweepStatus, TrialInfo, format_params, format_value
from xaxtui.widgets.header import STATUS_STYLES
from xaxtui.widgets.tables import cursor_row_key, fit_columns

TRIAL_STYLES = {"running": "bold green", "complete": "bold blue", "pruned": "bold yellow", "fail": "bold red"}


class TrialsTable(DataTable):
    """Rows keyed by trial number; :meth:`show_sweep` replaces them, keeping the cursor on the same trial."""

    BINDINGS = table_enter("sweep")  # ty: ignore[invalid-assignment]

    DEFAULT_CSS = """
    TrialsTable { height: 1fr; }
    """

    def __init__(self, **kwargs: object) -> None:
        """Creates the table."""
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)  # ty: ignore[invalid-argument-type]
        self.trials: dict[str, TrialInfo] = {}
        self._objective = ""

    def show_sweep(self, sweep: SweepStatus) -> None:
        """Replaces the rows with the sweep's trials (the columns too when the objective's name changed)."""
        current = cursor_row_key(self)
        if not self.columns or sweep.objective != self._objective:
            self._objective = sweep.objective
            self.clear(columns=True)
            self.add_columns("trial", "state", "step", sweep.objective or "objective", "params", "reason", "run")
        self.clear()
        self.trials = {str(t.number): t for t in sweep.rows}
        best = sweep.best.number if sweep.best is not None else None
        rows = []
        for t in sorted_by_objective(sweep):
            bold = "bold" if t.number == best else ""
            row = (
                Text(f"{'★' if t.number == best else ' '}{t.number}", style=bold),
                Text(t.state, style=TRIAL_STYLES.get(t.state, STATUS_STYLES.get(t.state, ""))),
                str(t.step),
                Text(format_value(t.value), style=f"{bold} green" if bold else ""),
                format_params(t.params),
                t.reason,
                Path(t.run_dir).name if t.run_dir else "-",
            )
            self.add_row(*row, key=str(t.number))
            rows.append(row)
        fit_columns(self, rows)
        if current in self.trials:
            self.move_cursor(row=self.get_row_index(current))

    def current_trial(self) -> TrialInfo | None:
        """The trial under the cursor."""
        key = cursor_row_key(self)
        return self.trials.get(key) if key is not None else None


def sorted_by_objective(sweep: SweepStatus) -> list[TrialInfo]:
    """The sweep's trials, best objective first (ties and trials without a value by trial number)."""
    sign = -1.0 if sweep.maximize else 1.0
    return sorted(sweep.rows, key=lambda t: (t.value is None, sign * (t.value or 0.0), t.number))
