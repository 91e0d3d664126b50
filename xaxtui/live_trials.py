"""The sweep view's running trials: each one's ``events.jsonl`` tailed by a source and folded into a run state.

Textual-free. :meth:`LiveTrials.sync` starts a :class:`~xaxtui.sources.FileTailSource` for each trial that runs now
and closes those of trials that ended; the sources' threads call ``wake`` when new batches wait, and
:meth:`LiveTrials.drain` folds them (:func:`xaxtui.state.fold`, the run view's fold). Each trial keeps one color for
as long as it runs (:func:`assign_colors`), whichever trials start or end around it.
"""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from xaxtui.channel import BatchChannel
from xaxtui.sources import FileTailSource
from xaxtui.state import RunState, fold
from xaxtui.sweeps import SweepStatus, trial_run_dir

LIVE_STATES = ("launching", "starting", "compiling", "running", "pruning", "stopping")


def assign_colors(previous: dict[int, str], numbers: list[int], palette: tuple[str, ...]) -> dict[int, str]:
    """Colors for the trials running now: each keeps the one it had; a new one takes its own, else the next free.

    Args:
        previous: The colors given before (trials that ended are dropped).
        numbers: The trials running now.
        palette: The colors to give.

    Returns:
        Trial number -> color; distinct while at most ``len(palette)`` trials run.
    """
    out = {n: previous[n] for n in numbers if n in previous}
    for number in numbers:
        if number in out:
            continue
        taken = set(out.values())
        start = number % len(palette)
        free = [palette[(start + k) % len(palette)] for k in range(len(palette))]
        out[number] = next((c for c in free if c not in taken), palette[start])
    return out


@dataclass
class _Tail:
    source: FileTailSource
    channel: BatchChannel
    state: RunState


class LiveTrials:
    """The running trials of one sweep, folded as their events arrive."""

    def __init__(self, wake: Callable[[], object], palette: tuple[str, ...]) -> None:
        """Creates an empty set.

        Args:
            wake: Called from a source's thread when batches wait (post a message).
            palette: The trials' colors.
        """
        self.wake = wake
        self.palette = palette
        self.tails: dict[int, _Tail] = {}
        self.colors: dict[int, str] = {}

    def sync(self, sweep: SweepStatus) -> bool:
        """Follows the trials of ``sweep`` that run now (and have events here); returns whether the set changed."""
        running: dict[int, Path] = {}
        for trial in sweep.rows:
            if trial.state in LIVE_STATES and (run_dir := trial_run_dir(sweep, trial)) is not None:
                running[trial.number] = run_dir
        gone = [n for n in self.tails if n not in running]
        for number in gone:
            tail = self.tails.pop(number)
            tail.channel.close()
            tail.source.close()
        new = [n for n in running if n not in self.tails]
        for number in new:
            source = FileTailSource(running[number] / "events.jsonl")
            self.tails[number] = _Tail(source, source.start_reading(self.wake), RunState())
        self.colors = assign_colors(self.colors, sorted(self.tails), self.palette)
        return bool(gone or new)

    def drain(self) -> bool:
        """Folds every batch that waits; returns whether any event was folded."""
        folded = False
        for tail in self.tails.values():
            for batch in tail.channel.drain():
                if batch.events:
                    fold(tail.state, batch.events)
                    folded = True
            tail.channel.done()
        return folded

    def curves(self, objective: str) -> list[tuple[str, RunState]]:
        """``(label, state)`` per running trial, each state holding only the objective's series (``valid/accuracy``)."""
        phase, _, name = objective.partition("/")
        out = []
        for number in sorted(self.tails):
            series = self.tails[number].state.series.get((name, phase))
            only = RunState(first_t=self.tails[number].state.first_t)
            if series is not None:
                only.series[name, phase] = series
            out.append((self.label(number), only))
        return out

    def label_colors(self) -> dict[str, str]:
        """The colors keyed by the labels of :meth:`curves`."""
        return {self.label(n): c for n, c in self.colors.items()}

    @staticmethod
    def label(number: int) -> str:
        """``trial 3``."""
        return f"trial {number}"

    def close(self) -> None:
        """Stops every source."""
        for tail in self.tails.values():
            tail.channel.close()
            tail.source.close()
        self.tails.clear()
