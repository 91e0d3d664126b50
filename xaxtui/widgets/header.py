"""The run header: task, run id, status, step, elapsed, ETA, steps/s, samples/s, step time, MFU, data-bound flag."""

import math
import time

from rich.text import Text
from textual.message import Message
from textual.widgets import Static

from xaxengine.protocol import TIMING_FRACTIONS
from xaxtui.data_advice import data_bound_advice
from xaxtui.state import RunState

STATUS_STYLES = {
    "running": "bold green",
    "finished": "bold blue",
    "failed": "bold red",
    "interrupted": "bold yellow",
    "stopping": "yellow",
    "compiling": "cyan",
    "starting": "cyan",
    "dead": "bold red",
    "pending": "magenta",  # a Slurm run whose job waits in the queue
}


def duration(seconds: float) -> str:
    """``3725`` -> ``1:02:05``; NaN -> ``-``."""
    if math.isnan(seconds) or seconds < 0:
        return "-"
    s = int(seconds)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


def header_text(state: RunState, now: float | None = None, extra: str = "") -> Text:
    """The two header lines for ``state``; a live run's elapsed time counts up to ``now``.

    Line 1 says what and how it is (status, reason, link state, the data-bound flag); line 2 how fast it goes, most
    important first. Lines never wrap: on a narrow terminal they end in an ellipsis.
    """
    task = state.task.rpartition(":")[2] or state.task or "?"
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append(f"{task} ", style="bold")
    waiting = "(no run)" if state.status in ("failed", "dead") else "(waiting for run_start)"
    text.append(state.run_id or waiting, style="dim")
    text.append("  ")
    text.append(f" {state.status} ", style=STATUS_STYLES.get(state.status, "reverse"))
    if state.reason:
        text.append(f" {state.reason}", style="italic red" if state.status == "failed" else "italic")
    if extra:
        text.append(f"  {extra}", style="yellow")
    if state.data_bound:
        wait = state.timing[TIMING_FRACTIONS["data"]]
        advice = data_bound_advice(state.pool, state.run_start)
        text.append(f"  DATA-BOUND {100 * wait:.0f}% data wait: {advice}", style="bold yellow")
    end = state.last_t if state.finished or now is None else now
    elapsed = end - state.first_t if not math.isnan(state.first_t) else math.nan
    max_steps = state.max_steps
    step = f"step {state.step}" + (f"/{max_steps}" if max_steps else "")
    steps_per_s, *rates = _rates(state)
    eta = f"{state.busy}…" if state.busy and not state.finished else f"ETA {duration(state.eta_s())}"
    parts = [step, steps_per_s, eta, f"elapsed {duration(elapsed)}", *rates]
    if state.bad_lines:
        parts.insert(1, f"{state.bad_lines} bad lines")
    text.append("\n" + " · ".join(parts))
    return text


def _steps_rate(state: RunState) -> str:
    """``412.5 steps/s (mean 380.2)``: the smoothed rate, then the run's mean."""
    if math.isnan(state.steps_per_s_smooth):
        return "- steps/s"
    mean = state.mean_steps_per_s()
    return f"{state.steps_per_s_smooth:,.1f} steps/s" + ("" if math.isnan(mean) else f" (mean {mean:,.1f})")


def _rates(state: RunState) -> list[str]:
    """``412 steps/s``, ``52,736 samples/s``, ``step 2.31 ms`` and ``MFU 41.0%`` where known."""
    rates = [
        _steps_rate(state),
        f"{state.samples_per_s:,.0f} samples/s" if not math.isnan(state.samples_per_s) else "- samples/s",
    ]
    if state.timing.get("step_ms"):
        rates.append(f"step {state.timing['step_ms']:.2f} ms")
    if state.timing.get("mfu"):
        rates.append(f"MFU {100 * state.timing['mfu']:.1f}%")
    return rates


class RunHeader(Static):
    """Two lines at the top of the run view; a click asks for the run overview (:class:`Clicked`)."""

    DEFAULT_CSS = """
    RunHeader { height: 2; padding: 0 1; text-wrap: nowrap; text-overflow: ellipsis; }
    """

    class Clicked(Message):
        """The header was clicked: the view opens the run overview (a failed run's traceback is there)."""

    def on_click(self) -> None:
        """Posts :class:`Clicked`."""
        self.post_message(self.Clicked())

    def update_state(self, state: RunState, extra: str = "", live: bool = True) -> None:
        """Redraws from ``state``."""
        self.update(header_text(state, time.time() if live else None, extra))
