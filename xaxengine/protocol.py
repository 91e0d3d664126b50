"""The event protocol shared by the engine and the TUI: JSON lines, one event per line.

Every event is a JSON object ``{"v": 1, "seq": 17, "t": 1764050000.123, "kind": "...", ...}``. ``seq`` is strictly
increasing within a run (a resumed run continues the sequence), ``t`` is wall time in seconds. Readers ignore
unknown kinds and fields, skip (and count) lines that do not parse, and hold a partial last line until its newline
arrives.

This module must stay light: no jax, only the standard library and orjson. The TUI imports it.
"""

import operator
import time
from collections.abc import Iterator, Sequence
from enum import StrEnum
from pathlib import Path
from typing import IO, Any, Protocol

import orjson

SCHEMA_VERSION = 1

Event = dict[str, Any]


class Kind(StrEnum):
    """Event kinds. Extend, never repurpose."""

    RUN_START = "run_start"
    SCALARS = "scalars"
    STATS = "stats"
    CHECKPOINT = "checkpoint"
    CHECKPOINT_FAILED = "checkpoint_failed"
    HISTOGRAM = "histogram"
    IMAGE = "image"
    TEXT = "text"
    DISTRIBUTION = "distribution"
    MESH = "mesh"
    VIDEO = "video"
    LOG = "log"
    STATUS = "status"
    COMPILE = "compile"
    BUSY = "busy"


class State(StrEnum):
    """Values of the ``state`` field of ``status`` events."""

    STARTING = "starting"
    COMPILING = "compiling"
    RUNNING = "running"
    STOPPING = "stopping"
    FINISHED = "finished"
    FAILED = "failed"
    INTERRUPTED = "interrupted"


TERMINAL_STATES = frozenset({State.FINISHED, State.FAILED, State.INTERRUPTED})

TIMING_PHASE = "timing"  # the ``phase`` of the step-time breakdown's ``scalars`` events
# Phase of the train loop -> the field of a timing event that holds its fraction of the interval's wall time.
TIMING_FRACTIONS = {
    "data": "data_wait_frac",
    "step": "step_frac",
    "log": "log_frac",
    "valid": "valid_frac",
    "checkpoint": "checkpoint_frac",
    "profile": "profile_frac",
}


def _default(obj: object) -> object:
    """Serializes values orjson does not know natively (numpy scalars handled by OPT_SERIALIZE_NUMPY)."""
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "item"):
        return obj.item()  # ty: ignore[not-callable]
    if isinstance(obj, set | frozenset | tuple):
        return list(obj)
    raise TypeError(f"cannot encode {type(obj).__name__} in an event")


def decimal_bytes(n: float) -> str:
    """A size as log lines and tables write it (powers of 1000): ``123756`` -> ``123.8 kB``, ``1.7e6`` -> ``1.7 MB``.

    The engine's log, the TUI's log pane and its checkpoint table all use it, so one checkpoint reads the same in all
    three.
    """
    for unit in ("B", "kB", "MB", "GB"):
        if abs(n) < 1000 or unit == "GB":
            return f"{n:.0f} B" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"


def make_event(seq: int, kind: str, t: float | None = None, **fields: object) -> Event:
    """Builds an event dict with the envelope fields first.

    Args:
        seq: Sequence number, strictly increasing within a run.
        kind: One of :class:`Kind` (unknown kinds are allowed for forward compatibility).
        t: Wall time in seconds; now if omitted.
        **fields: Kind-specific payload.

    Returns:
        The event as a plain dict.
    """
    return {"v": SCHEMA_VERSION, "seq": seq, "t": time.time() if t is None else t, "kind": str(kind), **fields}


def encode(event: Event) -> bytes:
    """Encodes one event as a JSON line, newline included. Non-finite floats become null."""
    return orjson.dumps(event, default=_default, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_APPEND_NEWLINE)


def decode(line: bytes | str) -> Event | None:
    """Decodes one line; returns None when it is not a valid event (garbage, not an object, no kind or seq)."""
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(obj, dict) or not isinstance(obj.get("kind"), str) or not isinstance(obj.get("seq"), int):
        return None
    return obj


_SEQ = operator.itemgetter("seq")
_KIND = operator.itemgetter("kind")
_DICT_ONLY = frozenset({dict})
_INT_ONLY = frozenset({int})
_STR_ONLY = frozenset({str})


class LineReader:
    """Incremental, tolerant JSON-lines decoder.

    Feed it arbitrary byte chunks; it returns the complete events found so far, holds a trailing partial line
    until its newline arrives, skips and counts lines that fail to parse, and drops events whose ``seq`` is not
    greater than the last one seen (duplicates after a reconnect). A clean chunk is decoded with one
    ``orjson.loads`` over all its lines (about twice as fast as one call per line); a chunk with any bad or blank
    line goes through the per-line path.
    """

    def __init__(self, after_seq: int = -1) -> None:
        """Creates a reader.

        Args:
            after_seq: Only events with ``seq`` greater than this are returned.
        """
        self.pending = b""
        self.bad_lines = 0
        self.last_seq = after_seq

    def feed(self, chunk: bytes) -> list[Event]:
        """Consumes a chunk of bytes and returns the complete, new events in it."""
        data = self.pending + chunk
        cut = data.rfind(b"\n")
        if cut < 0:
            self.pending = data
            return []
        self.pending = data[cut + 1 :]
        body = data[:cut]
        decoded = _decode_all(body)
        if decoded is None:
            events = self._decode_lines(body)
            return self._newer(events, [e["seq"] for e in events])
        return self._newer(*decoded)

    def _decode_lines(self, body: bytes) -> list[Event]:
        events: list[Event] = []
        for line in body.split(b"\n"):
            if not line.strip():
                continue
            event = decode(line)
            if event is None:
                self.bad_lines += 1
            else:
                events.append(event)
        return events

    def _newer(self, events: list[Event], seqs: list[int]) -> list[Event]:
        if not events:
            return events
        if seqs[0] > self.last_seq and all(map(operator.lt, seqs, seqs[1:])):
            self.last_seq = seqs[-1]
            return events
        kept: list[Event] = []
        for event in events:
            if event["seq"] > self.last_seq:
                self.last_seq = event["seq"]
                kept.append(event)
        return kept

    def finish(self) -> list[Event]:
        """Flushes a final line that never got its newline (the writer is gone), counting it if it is garbage."""
        if not self.pending.strip():
            self.pending = b""
            return []
        return self.feed(b"\n")


def _decode_all(body: bytes) -> tuple[list[Event], list[int]] | None:
    """Decodes newline-separated lines as one JSON array, with their seqs; None unless every line is a valid event.

    The checks are C-level ``map`` passes over the batch (a Python loop over the events cost as much as the parse).
    """
    try:
        events = orjson.loads(b"[" + body.replace(b"\n", b",") + b"]")
    except orjson.JSONDecodeError:
        return None
    if not set(map(type, events)) <= _DICT_ONLY:
        return None
    try:
        seqs = list(map(_SEQ, events))
        if not set(map(type, seqs)) <= _INT_ONLY or not set(map(type, map(_KIND, events))) <= _STR_ONLY:
            return None
    except KeyError:
        return None
    return events, seqs


def read_events(path: str | Path, after_seq: int = -1, chunk_size: int = 1 << 20) -> Iterator[Event]:
    """Reads every complete event of an events file (no following). A partial last line is ignored."""
    reader = LineReader(after_seq=after_seq)
    with open(path, "rb") as f:
        while chunk := f.read(chunk_size):
            yield from reader.feed(chunk)


def last_seq_in_file(path: str | Path) -> int:
    """Returns the highest ``seq`` in an events file, or -1 when there is none (reads from the end)."""
    path = Path(path)
    if not path.exists():
        return -1
    size = path.stat().st_size
    block = 1 << 16
    with open(path, "rb") as f:
        offset = size
        tail = b""
        while offset > 0:
            offset = max(0, offset - block)
            f.seek(offset)
            tail = f.read(size - offset)
            for line in reversed(tail.split(b"\n")):
                event = decode(line) if line.strip() else None
                if event is not None:
                    return int(event["seq"])
            if size - offset > 64 * block:
                break
    return max((e["seq"] for e in read_events(path)), default=-1)


class LineFile(Protocol):
    """A file sink that takes whole lines and may need to tell about itself (the run's ``events.jsonl``)."""

    def write_line(self, line: bytes, durable: bool = False) -> str | None:
        """Appends one line (made durable when asked); returns a warning to log as a ``log`` event, if any."""
        ...


class EventWriter:
    """Numbers events and writes them as JSON lines: whole lines to files, flushed lines to streams.

    ``status`` events are written durably to files (they say how a run ended). A warning a file returns (it was
    deleted and recreated) is logged right after as a ``log`` event.
    """

    def __init__(self, sinks: list[IO[bytes]], next_seq: int = 0, files: Sequence[LineFile] = ()) -> None:
        """Creates a writer.

        Args:
            sinks: Binary streams, e.g. ``sys.stdout.buffer`` with ``--events -``; a sink that breaks is dropped.
            next_seq: The ``seq`` of the first event written (a resumed run continues its file's sequence).
            files: Line files, e.g. the run's :class:`~xaxengine.event_file.EventFile`.
        """
        self.sinks = sinks
        self.files = list(files)
        self.next_seq = next_seq
        self.file_error: str | None = None  # the first failed file write ("No space left on device"), if any
        self._failed: set[int] = set()

    def _file_failed(self, file: "LineFile", error: OSError) -> None:
        """Stops writing ``file`` (but status lines) after a failed write; the trainer ends the run on it."""
        self._failed.add(id(file))
        if self.file_error is None:
            self.file_error = f"{getattr(file, 'path', 'events file')}: {error.strerror or error}"

    def emit(self, kind: str, **fields: object) -> Event:
        """Writes one event to every file and sink and returns it.

        A file write that fails (full disk, read-only file system) never raises: the file is skipped from then on
        except for ``status`` lines (retried, so the final status lands once space is freed), the error is kept in
        :attr:`file_error` for the trainer to end the run with one line.
        """
        event = {**make_event(self.next_seq, kind), **fields}
        self.next_seq += 1
        line = encode(event)
        warnings = []
        for f in self.files:
            if id(f) in self._failed and kind != Kind.STATUS:  # after a failed write only status lines are retried
                continue
            try:
                if (warning := f.write_line(line, kind == Kind.STATUS)) is not None:
                    warnings.append(warning)
                self._failed.discard(id(f))
            except OSError as error:
                self._file_failed(f, error)
            if getattr(f, "reserve_used", False) and self.file_error is None:  # written, into the last free bytes
                self.file_error = f"{getattr(f, 'path', 'events file')}: No space left on device"
        for sink in self.sinks:
            try:
                sink.write(line)
                sink.flush()
            except (BrokenPipeError, ValueError):
                # A reader that went away (TUI closed) must never stop training; the file sink still has it.
                self.sinks = [s for s in self.sinks if s is not sink]
        for warning in warnings:
            self.emit(Kind.LOG, level="warning", message=warning)
        return event
