"""Human-readable progress: a rich progress bar on a terminal, plain log lines otherwise."""

import logging
from typing import IO

from xaxengine.protocol import Event, Kind

logger = logging.getLogger("xaxengine")


def _format_values(values: dict[str, float | None]) -> str:
    return " ".join(f"{k}={v:.4g}" if isinstance(v, int | float) else f"{k}=nan" for k, v in values.items())


class StdoutBackend:
    """Shows training progress for people: steps, it/s, ETA and the latest loss."""

    def __init__(self, stream: IO[str], max_steps: int | None, use_progress_bar: bool) -> None:
        """Creates the backend.

        Args:
            stream: Where the progress bar goes (stdout, or stderr when stdout carries events).
            max_steps: Total steps, for the bar and ETA.
            use_progress_bar: Whether to draw a rich bar (only on a terminal); otherwise log plain lines.
        """
        self.progress = None
        self.task_id = None
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
            values = event.get("values") or {}
            if self.progress is not None and self.task_id is not None and event.get("phase") == "train":
                rate = event.get("steps_per_s")
                self.progress.update(
                    self.task_id,
                    completed=event["step"],
                    rate=f"{rate:.1f} it/s" if rate else "",
                    loss=_format_values({k: values[k] for k in list(values)[:2]}),
                )
            else:
                logger.info("step %d %s %s", event["step"], event.get("phase", ""), _format_values(values))
        elif kind == Kind.CHECKPOINT:
            logger.info("checkpoint at step %d (%.1f MB, %.2fs)", event["step"], event["bytes"] / 1e6, event["save_s"])
        elif kind == Kind.STATUS:
            logger.info("status %s at step %s%s", event["state"], event.get("step"), _reason(event))

    def close(self) -> None:
        """Stops the progress bar."""
        if self.progress is not None:
            self.progress.stop()


def _reason(event: Event) -> str:
    return f": {event['reason']}" if event.get("reason") else ""
