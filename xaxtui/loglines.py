"""What the log pane says: one rendering of a run's events, whether they came from a pipe or ``events.jsonl``.

A ``log``, ``status``, ``checkpoint`` or ``checkpoint_failed`` event becomes one line (:func:`event_line`). A
launched engine also writes human lines on stderr: the same ``log`` messages (prefixed with a time and a level) and
its own renderings of status, checkpoint and step events. Those are echoes of events and are dropped
(:func:`engine_text` strips the prefix, :func:`echoes_event` spots the renderings; :mod:`xaxtui.state` drops a line
equal to an event's); every other stderr line (a traceback, a startup error) is kept. No textual, no jax.
"""

import re
from typing import Any

from xaxengine.protocol import Kind

Line = tuple[str, str]  # (level, text)

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
    size = _num(ev["bytes"] / 1e6, ".1f") if _num(ev.get("bytes"), "") else None
    took = _num(ev.get("save_s"), ".2f")
    details = ", ".join(part for part in (size and f"{size} MB", took and f"{took}s") if part)
    return "info", f"checkpoint at step {ev.get('step')}" + (f" ({details})" if details else "")


def _checkpoint_failed(ev: dict[str, Any]) -> Line:
    last = ev.get("last_good_step")
    kept = f" (last good: step {last})" if last is not None else ""
    return "error", f"checkpoint at step {ev.get('step')} failed: {ev.get('reason') or 'unknown reason'}{kept}"


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
