"""What ``xaxengine sweep`` prints: a live rich table on a terminal, one plain line per trial event otherwise."""

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

REFRESH_S = 0.5


@dataclass
class TrialRow:
    """One line of the trials table (also what ``status.json`` holds per trial)."""

    number: int
    state: str
    params: dict[str, Any]
    value: float | None = None
    step: int = 0
    run_dir: str = ""
    reason: str = ""
    slot: str = ""
    started_t: float | None = None
    ended_t: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready row."""
        return dict(self.__dict__)


def format_params(params: dict[str, Any]) -> str:
    """``optimizer.lr=0.00123 hidden=128``."""
    return " ".join(f"{k}={_short(v)}" for k, v in params.items())


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def format_value(value: float | None) -> str:
    """An objective value, or ``-``."""
    return "-" if value is None else f"{value:.5g}"


@dataclass
class Reporter:
    """Prints the sweep's progress to ``out``: a rich ``Live`` table when it is a terminal, else plain lines."""

    title: str
    objective: str
    out: IO[str] = field(default_factory=lambda: sys.stdout)
    live: Any = None
    _drawn_t: float = 0.0

    def __post_init__(self) -> None:
        """Starts the live table on a terminal (no refresh thread: the driver redraws it from its loop)."""
        if self.out.isatty():
            from rich.console import Console
            from rich.live import Live

            self.live = Live(console=Console(file=self.out), auto_refresh=False, transient=False)
            self.live.start()

    def line(self, text: str) -> None:
        """A line about one trial (plain mode only: the table shows the same)."""
        if self.live is None:
            self.out.write(text + "\n")
            self.out.flush()

    def refresh(self, rows: dict[int, TrialRow], best: TrialRow | None, force: bool = False) -> None:
        """Redraws the table, at most every REFRESH_S seconds unless forced."""
        if self.live is None or (not force and time.monotonic() - self._drawn_t < REFRESH_S):
            return
        from rich.table import Table

        table = Table(title=self.title, caption=f"best: {_best_text(best, self.objective)}")
        for column in ("trial", "state", "step", self.objective, "params", "slot", "reason"):
            table.add_column(column, justify="right" if column in ("trial", "step", self.objective) else "left")
        for row in sorted(rows.values(), key=lambda r: r.number):
            style = "bold green" if best is not None and row.number == best.number else None
            table.add_row(
                str(row.number),
                row.state,
                str(row.step),
                format_value(row.value),
                format_params(row.params),
                row.slot,
                row.reason,
                style=style,
            )
        self.live.update(table, refresh=True)
        self._drawn_t = time.monotonic()

    def close(self, summary: list[str]) -> None:
        """Stops the live table and prints the final summary."""
        if self.live is not None:
            self.live.stop()
        self.out.write("\n".join(summary) + "\n")
        self.out.flush()


def _best_text(best: TrialRow | None, objective: str) -> str:
    if best is None:
        return "none yet"
    return f"trial {best.number} {objective}={format_value(best.value)} {format_params(best.params)}"


def summary_lines(
    sweep_id: str, objective: str, rows: dict[int, TrialRow], best: TrialRow | None, best_file: Path, stopped: bool
) -> list[str]:
    """The driver's final words: trials per state, the best trial (value, params, run, ``best.toml``), how to go on."""
    counts: dict[str, int] = {}
    for row in rows.values():
        counts[row.state] = counts.get(row.state, 0) + 1
    lines = [f"sweep {sweep_id} {'stopped' if stopped else 'finished'}: "
             + ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))]  # fmt: skip
    if best is None:
        lines.append("no trial completed")
    else:
        lines.append(f"best trial {best.number}: {objective}={format_value(best.value)}")
        lines.append(f"  params  {format_params(best.params)}")
        lines.append(f"  run     {best.run_dir}")
        lines.append(f"  config  {best_file}")
    if stopped:
        lines.append(f"continue with: xaxengine sweep --resume {best_file.parent}")
    return lines
