"""What the log pane says: one rendering of a run's events, whether they came from a pipe or ``events.jsonl``.

A ``log``, ``status``, ``checkpoint`` or ``checkpoint_failed`` event becomes one line (:func:`event_line`), and a
``scalars`` event now and then a step line (:meth:`LogBook.step_lines`). A launched engine also writes human lines
on stderr: the same ``log`` messages (prefixed with a time and a level) and its own renderings of status,
checkpoint and step events. Those are echoes of events and are dropped (:func:`engine_text` strips the prefix,
:func:`echoes_event` spots the renderings, :class:`LogBook` drops a line equal to an event's in either arrival
order); every other stderr line (a traceback, a startup error) is kept. No textual, no jax.
"""

import math
import re
from bisect import bisect_left
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from xaxengine.protocol import Kind, decimal_bytes

Line = tuple[str, str]  # (level, text)
Entry = tuple[float, str, str]  # (t, level, text): one line of the pane
LOG_LINES = 2000
ECHO_WINDOW = 256  # recent unmatched event lines and engine lines kept to find the other copy of a message
STEP_LINES = 20  # step lines per phase over a run's max_steps
STEP_LINE_EVERY = 100  # steps between step lines when max_steps is unknown

_PREFIX = re.compile(r"^(?:\d\d:\d\d:\d\d(?:[.,]\d+)? +)?(?:DEBUG|INFO|WARNING|WARN|ERROR|CRITICAL):? +")
# the engine's plain-text progress (xaxengine.task.loggers.stdout): scalars, timing, checkpoint, status, run time
_ECHO = re.compile(r"^(?:step \d+ \S+ \S|status \S+ at step |checkpoint at step \d+ \(|time: \d)")
STATUS_LEVELS = {"failed": "error", "interrupted": "warning"}
LEVELS = {
    "debug": "debug",
    "info": "info",
    "warn": "warning",
    "warning": "warning",
    "error": "error",
    "critical": "error",
}


def engine_text(line: str) -> str:
    """A human log line without its leading time and level (``12:00:01 INFO: compiled`` -> ``compiled``)."""
    return _PREFIX.sub("", line, count=1)


def echoes_event(text: str) -> bool:
    """Whether an engine stderr line (prefix stripped) is the engine's own rendering of an event."""
    return _ECHO.match(text) is not None


def _num(value: object, fmt: str) -> str | None:
    return format(value, fmt) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _status(ev: dict[str, Any]) -> Line:
    state = str(ev.get("state", "unknown"))
    reason = f": {ev['reason']}" if ev.get("reason") else ""
    return STATUS_LEVELS.get(state, "info"), f"status {state} at step {ev.get('step')}{reason}"


def _checkpoint(ev: dict[str, Any]) -> Line:
    size = decimal_bytes(float(ev["bytes"])) if _num(ev.get("bytes"), "") else None
    took = _num(ev.get("save_s"), ".2f")
    details = ", ".join(part for part in (size, took and f"{took}s") if part)
    return "info", f"checkpoint at step {ev.get('step')}" + (f" ({details})" if details else "")


def _checkpoint_failed(ev: dict[str, Any]) -> Line:
    last = ev.get("last_good_step")
    kept = f" (last good: step {last})" if last is not None else ""
    return "error", f"checkpoint at step {ev.get('step')} failed: {ev.get('reason') or 'unknown reason'}{kept}"


def _value(value: object) -> str:
    return f"{value:.4g}" if isinstance(value, int | float) and not isinstance(value, bool) else "nan"


def scalars_line(ev: dict[str, Any]) -> str:
    """``step 100 train loss=0.1 accuracy=0.9``: a ``scalars`` event as the engine's progress line writes it."""
    values = ev.get("values")
    text = " ".join(f"{k}={_value(v)}" for k, v in values.items()) if isinstance(values, dict) else ""
    return f"step {ev.get('step')} {ev.get('phase') or 'train'} {text}".rstrip()


def event_line(ev: dict[str, Any]) -> Line | None:
    """The log pane's line for an event, or None for kinds it does not show (scalars, stats, media...)."""
    kind = ev.get("kind")
    if kind == Kind.LOG:
        level = str(ev.get("level", "info")).lower()
        return LEVELS.get(level, "info"), str(ev.get("message", ""))
    if kind == Kind.STATUS:
        return _status(ev)
    if kind == Kind.CHECKPOINT:
        return _checkpoint(ev)
    if kind == Kind.CHECKPOINT_FAILED:
        return _checkpoint_failed(ev)
    return None


def _step_of(ev: dict[str, Any]) -> float:
    step = ev.get("step")
    return step if isinstance(step, int | float) and math.isfinite(step) else -1


@dataclass
class LogBook:
    """The pane's lines of one run, bounded, and what is needed to show each message once.

    Attributes:
        lines: The lines, oldest first.
        total: Lines ever added (a view appends only new ones).
        rewrites: Bumped when a line already in ``lines`` was taken out (an engine line whose event came later);
            a view then draws ``lines`` again from the start.
        echo_events: Texts of recent event lines no engine line has matched yet.
        echo_lines: Recent engine lines (entries of ``lines``) no event line has matched yet.
        step_buckets: Per phase, the last ``step // every`` that got a step line.
    """

    lines: deque[Entry] = field(default_factory=lambda: deque(maxlen=LOG_LINES))
    total: int = 0
    rewrites: int = 0
    echo_events: deque[str] = field(default_factory=lambda: deque(maxlen=ECHO_WINDOW), repr=False)
    echo_lines: deque[Entry] = field(default_factory=lambda: deque(maxlen=ECHO_WINDOW), repr=False)
    step_buckets: dict[str, int] = field(default_factory=dict, repr=False)

    def add(self, t: float, level: str, text: str) -> None:
        """Adds a line as it is (the TUI's own notes)."""
        self.lines.append((t, level, text))
        self.total += 1

    def add_event(self, ev: dict[str, Any]) -> None:
        """Adds an event's line; an engine line already shown with the same text is taken out (the event wins)."""
        line = event_line(ev)
        if line is None:
            return
        level, text = line
        for entry in reversed(self.echo_lines):
            if entry[2] == text:
                self.echo_lines.remove(entry)
                try:
                    self.lines.remove(entry)
                    self.rewrites += 1
                except ValueError:  # already fell off the bounded log
                    pass
                break
        else:
            self.echo_events.append(text)
        t = ev.get("t")
        self.add(t if isinstance(t, float | int) else float("nan"), level, text)

    def add_engine(self, t: float, level: str, message: str) -> None:
        """Adds a human line from the engine's stderr (or a source's note) unless it echoes an event.

        The leading time and level are stripped; a line that is the engine's own rendering of an event, or the text
        of an event line already added, is dropped (the event's line shows it); a later event line with the same
        text takes this line out again (:meth:`add_event`).
        """
        text = engine_text(message)
        if not text.strip() or echoes_event(text):
            return
        if text in self.echo_events:
            self.echo_events.remove(text)
            return
        self.add(t, level, text)
        self.echo_lines.append(self.lines[-1])

    def step_lines(self, by_phase: dict[str, list[dict[str, Any]]], max_steps: int | None) -> list[tuple[int, Entry]]:
        """``(seq, line)`` of the ``scalars`` events that get a step line, in ``seq`` order (not added yet).

        Per phase, the first event at or past each multiple of ``max_steps // STEP_LINES`` steps gets one (every
        :data:`STEP_LINE_EVERY` steps without a ``max_steps``): the same events however the stream was batched.
        """
        every = max(1, max_steps // STEP_LINES) if max_steps else STEP_LINE_EVERY
        out: list[tuple[int, Entry]] = []
        for phase, events in by_phase.items():
            last = self.step_buckets.get(phase, -1)
            if _step_of(events[-1]) < (last + 1) * every:
                continue  # the common case: no line in this batch
            i = 0
            while (i := bisect_left(events, (last + 1) * every, lo=i, key=_step_of)) < len(events):
                ev = events[i]
                last = int(_step_of(ev) // every)
                out.append((ev.get("seq", 0), (ev.get("t", float("nan")), "info", scalars_line(ev))))
            self.step_buckets[phase] = last
        return sorted(out, key=lambda item: item[0]) if len(by_phase) > 1 else out


def merge_step_lines(
    book: LogBook, step_lines: Sequence[tuple[int, Entry]], before_seq: float
) -> Sequence[tuple[int, Entry]]:
    """Adds the step lines of events before ``before_seq``; returns the rest."""
    n = 0
    while n < len(step_lines) and step_lines[n][0] < before_seq:
        book.lines.append(step_lines[n][1])
        book.total += 1
        n += 1
    return step_lines[n:]
