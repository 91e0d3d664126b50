"""Human-readable progress: a rich bar and a table of the latest scalars on a terminal, plain lines otherwise."""

import logging
from typing import IO, Any

from xaxengine.protocol import TERMINAL_STATES, TIMING_FRACTIONS, TIMING_PHASE, Event, Kind, decimal_bytes

logger = logging.getLogger("xaxengine")


def _format_values(values: dict[str, float | None]) -> str:
    return " ".join(f"{k}={v:.4g}" if isinstance(v, int | float) else f"{k}=nan" for k, v in values.items())


PHASE_FRACS = tuple(
    (phase, TIMING_FRACTIONS[phase]) for phase in ("step", "data", "log", "valid", "checkpoint", "profile")
)


def timing_summary(values: dict[str, float | None]) -> str:
    """``412.0 steps/s, step 2.31 ms; step 90% data 3% log 1% valid 5%`` from a timing event (zero phases left out)."""
    rate, step_ms = values.get("steps_per_s") or 0.0, values.get("step_ms") or 0.0
    split = " ".join(f"{name} {100 * value:.0f}%" for name, key in PHASE_FRACS if (value := values.get(key)))
    mfu = values.get("mfu")
    return f"{rate:.1f} steps/s, step {step_ms:.2f} ms; {split}" + (f"; MFU {100 * mfu:.1f}%" if mfu else "")


class RunTimeTotals:
    """Adds up the timing events of a run, for one line at its end: where the whole run's time went."""

    def __init__(self) -> None:
        self.seconds = dict.fromkeys([name for name, _ in PHASE_FRACS], 0.0)
        self.wall = self.steps = 0.0
        self.compile_s: float | None = None

    def add(self, values: dict[str, float | None]) -> None:
        """Adds one interval."""
        interval = values.get("interval_s") or 0.0
        self.wall += interval
        self.steps += values.get("steps") or 0.0
        for name, key in PHASE_FRACS:
            self.seconds[name] += (values.get(key) or 0.0) * interval
        if values.get("compile_s") is not None:
            self.compile_s = (self.compile_s or 0.0) + (values["compile_s"] or 0.0)

    def summary(self) -> str:
        """``1500 steps in 1.43 s (1049 steps/s, compile 0.61 s): step 91% valid 6% log 1% checkpoint 1%``."""
        rate = self.steps / self.wall if self.wall else 0.0
        compiled = f", compile {self.compile_s:.2f} s" if self.compile_s is not None else ""
        ranked = sorted(self.seconds.items(), key=lambda item: -item[1])
        split = " ".join(f"{name} {100 * sec / self.wall:.0f}%" for name, sec in ranked if sec and self.wall)
        return f"{self.steps:.0f} steps in {self.wall:.2f} s ({rate:.1f} steps/s{compiled}): {split}"


def _cell(value: object) -> str:
    return f"{value:.4g}" if isinstance(value, int | float) else "-"


class StdoutBackend:
    """Shows training progress for people: steps, it/s, ETA, the latest loss, and a table every N scalars events."""

    def __init__(self, stream: IO[str], max_steps: int | None, use_progress_bar: bool, table_every_n: int = 10) -> None:
        """Creates the backend.

        Args:
            stream: Where the progress output goes (stdout, or stderr when stdout carries events).
            max_steps: Total steps, for the bar and ETA.
            use_progress_bar: Whether to draw a rich bar and tables (on a terminal); otherwise log plain lines.
            table_every_n: With the bar, print a table of the latest scalars of every phase every N scalars
                events (and at the end); 0 never.
        """
        self.progress: Any = None
        self.task_id: Any = None
        self.table_every_n = table_every_n
        self.latest: dict[str, tuple[int, dict[str, float | None]]] = {}
        self.scalars_seen = 0
        self.printed_at = 0
        self.totals = RunTimeTotals()
        if use_progress_bar:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self.progress = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[rate]}"),
                TimeRemainingColumn(),
                TextColumn("{task.fields[loss]}"),
                console=Console(file=stream),
                transient=False,
            )
            self.progress.start()
            self.task_id = self.progress.add_task("train", total=max_steps, rate="", loss="")

    def write(self, event: Event) -> None:
        """Updates the bar or logs a line for scalars, checkpoints and status changes."""
        kind = event["kind"]
        if kind == Kind.SCALARS:
            self._scalars(event)
        elif kind == Kind.CHECKPOINT:
            size = decimal_bytes(event["bytes"])
            logger.info("checkpoint at step %d (%s, %.2fs)", event["step"], size, event["save_s"])
        elif kind == Kind.STATUS:
            if event["state"] in TERMINAL_STATES and self.totals.wall:
                logger.info("time: %s", self.totals.summary())
            logger.info("status %s at step %s%s", event["state"], event.get("step"), _reason(event))

    def _scalars(self, event: Event) -> None:
        values = event.get("values") or {}
        phase = str(event.get("phase") or "train")
        if phase == TIMING_PHASE:
            self.totals.add(values)
            if self.progress is None:
                logger.info("step %d timing %s", event["step"], timing_summary(values))
            return
        self.latest[phase] = (int(event["step"]), values)
        self.scalars_seen += 1
        if self.progress is None:
            logger.info("step %d %s %s", event["step"], phase, _format_values(values))
            return
        if phase == "train":
            rate = event.get("steps_per_s")
            self.progress.update(
                self.task_id,
                completed=event["step"],
                rate=f"{rate:.1f} it/s" if rate else "",
                loss=_format_values({k: values[k] for k in list(values)[:2]}),
            )
        if self.table_every_n and self.scalars_seen % self.table_every_n == 0:
            self.print_table()

    def print_table(self) -> None:
        """Prints a compact table (one row per phase, one column per metric) of the latest scalars."""
        if self.progress is None or not self.latest or self.printed_at == self.scalars_seen:
            return
        from rich import box
        from rich.table import Table

        self.printed_at = self.scalars_seen
        names = list(dict.fromkeys(name for _, values in self.latest.values() for name in values))
        table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
        table.add_column("phase", style="bold")
        table.add_column("step", justify="right")
        for name in names:
            table.add_column(name, justify="right")
        for phase, (step, values) in self.latest.items():
            table.add_row(phase, str(step), *(_cell(values.get(name)) for name in names))
        self.progress.console.print(table)

    def close(self) -> None:
        """Prints the final table and stops the progress bar."""
        if self.progress is not None:
            self.print_table()
            self.progress.stop()


def _reason(event: Event) -> str:
    return f": {event['reason']}" if event.get("reason") else ""
