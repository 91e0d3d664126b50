"""A pure fold of protocol events into a bounded :class:`RunState` (no textual, no jax).

``fold(state, events)`` appends into plain lists so that a million events fold in well under a second; every
collection is bounded: a metric series keeps its most recent points at full resolution and folds older ones into
min/max buckets whose width doubles when there are too many of them (:class:`xaxtui.series.Series`).

Resumes rewrite history: a resumed engine appends a new ``run_start`` (with ``resumed_from_step``) to the same
``events.jsonl`` and logs again the steps after its checkpoint, so a series can go back in step. The fold replaces
instead of duplicating: a point whose step is not after the series' last step first drops the series' points at
that step or later, and a ``run_start`` with ``resumed_from_step=R`` drops every point after ``R``.
"""

import math
import operator
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import compress, repeat
from typing import Any

from xaxengine.protocol import TERMINAL_STATES, TIMING_FRACTIONS, TIMING_PHASE, Event
from xaxtui.event_check import numbers, only_valid, scalar_columns, time_column, valid
from xaxtui.loglines import Entry, LogBook, merge_step_lines
from xaxtui.media import MEDIA_KINDS, MediaIndex
from xaxtui.series import RECENT_POINTS, Series

STATS_POINTS = 3600
NAN = math.nan
RATE_SMOOTHING = 0.9
_RATE_WINDOWS = 64
_MISSING = object()
_KIND = operator.itemgetter("kind")
_ARTIFACT_KINDS = frozenset({"histogram", "image", "text", "distribution", "mesh", "video"})
DATA_BOUND_FRAC = 0.2  # a run that waits for data more than this fraction of the time is flagged data-bound


@dataclass
class GpuHistory:
    """Utilisation and memory history of one GPU."""

    name: str = ""
    util: deque[float] = field(default_factory=lambda: deque(maxlen=STATS_POINTS))
    mem_used: deque[float] = field(default_factory=lambda: deque(maxlen=STATS_POINTS))
    mem_total: float = 0.0


@dataclass
class RunState:
    """Everything the TUI knows about one run, folded from its events.

    Attributes:
        run_start: The ``run_start`` event (empty until it arrives).
        series: Metric series keyed by ``(name, phase)``.
        status: Latest status state (``"unknown"`` before any).
        reason: Reason given with the latest status.
        step: Latest step seen in scalars or status events (goes back when a run is resumed).
        step_seq: ``seq`` of the event that set ``step``.
        samples_per_s: Latest throughput.
        steps_per_s: Latest step rate (of the last logging window).
        steps_per_s_smooth: Exponential average of the windows' step rates (weight :data:`RATE_SMOOTHING`).
        elapsed_s: Latest elapsed time reported by the engine.
        first_t: Wall time of the first event.
        last_t: Wall time of the last event.
        last_seq: Highest ``seq`` folded.
        events: Number of events folded.
        bad_lines: Lines that failed to parse (added by the source).
        unknown: Events of kinds this TUI does not know.
        rejected: Events dropped because a field the fold reads had the wrong type (:mod:`xaxtui.event_check`).
        stats_t: Wall times of stats samples.
        cpu: CPU percent history.
        rss: RSS bytes history.
        gpus: Per-GPU history keyed by index.
        checkpoints: ``checkpoint`` events, oldest first.
        kept: Steps still on disk according to the latest checkpoint event.
        book: The log pane's lines (:class:`~xaxtui.loglines.LogBook`): one per ``log``, ``status``,
            ``checkpoint`` and ``checkpoint_failed`` event and a step line now and then, engine stderr lines that
            are not echoes of events, and the TUI's own notes (``logs``, ``logs_total`` and ``logs_rewrites``).
        timing: Values of the latest step-time breakdown (``scalars`` of phase ``timing``).
        pool: The latest ``data`` field of process 0's ``stats`` (the Grain worker pool; empty on other paths).
        compiles: Latest ``compile`` event per compiled function name.
        media: Images, videos, text samples and histograms per name and step (paths only, see :mod:`xaxtui.media`).
        busy: What the engine said it is doing between steps (``log_heavy`` at step N; empty when training).
        recent: Full-resolution points kept per series.
    """

    run_start: dict[str, Any] = field(default_factory=dict)
    series: dict[tuple[str, str], Series] = field(default_factory=dict)
    status: str = "unknown"
    reason: str | None = None
    step: int = 0
    step_seq: int = -1
    samples_per_s: float = NAN
    steps_per_s: float = NAN
    steps_per_s_smooth: float = NAN
    elapsed_s: float = NAN
    first_t: float = NAN
    last_t: float = NAN
    last_seq: int = -1
    events: int = 0
    bad_lines: int = 0
    unknown: int = 0
    rejected: int = 0
    stats_t: deque[float] = field(default_factory=lambda: deque(maxlen=STATS_POINTS))
    cpu: deque[float] = field(default_factory=lambda: deque(maxlen=STATS_POINTS))
    rss: deque[float] = field(default_factory=lambda: deque(maxlen=STATS_POINTS))
    gpus: dict[int, GpuHistory] = field(default_factory=dict)
    checkpoints: deque[Event] = field(default_factory=lambda: deque(maxlen=1000))
    kept: list[int] = field(default_factory=list)
    book: LogBook = field(default_factory=LogBook)
    timing: dict[str, Any] = field(default_factory=dict)
    pool: dict[str, Any] = field(default_factory=dict)
    compiles: dict[str, Event] = field(default_factory=dict)
    media: MediaIndex = field(default_factory=MediaIndex)
    busy: str = ""
    recent: int = RECENT_POINTS

    @property
    def logs(self) -> deque[Entry]:
        """``(t, level, message)`` lines of the log pane, oldest first."""
        return self.book.lines

    @property
    def logs_total(self) -> int:
        """Log lines ever added (views use it to append only new ones)."""
        return self.book.total

    @property
    def logs_rewrites(self) -> int:
        """Bumped when a line already shown was taken out (a view then draws ``logs`` again)."""
        return self.book.rewrites

    @property
    def run_id(self) -> str:
        """The run id from ``run_start`` (empty before it)."""
        return str(self.run_start.get("run_id") or "")

    @property
    def task(self) -> str:
        """The task from ``run_start``."""
        return str(self.run_start.get("task") or "")

    @property
    def max_steps(self) -> int | None:
        """``max_steps`` from ``run_start``, when the task has one."""
        value = self.run_start.get("max_steps")
        return int(value) if isinstance(value, int | float) else None

    @property
    def finished(self) -> bool:
        """Whether the run reached a terminal status."""
        return self.status in TERMINAL_STATES

    def metrics(self) -> list[str]:
        """Metric names in first-seen order."""
        return list(dict.fromkeys(name for name, _ in self.series))

    def phases(self, metric: str) -> list[str]:
        """Phases recorded for a metric, in first-seen order."""
        return [phase for name, phase in self.series if name == metric]

    @property
    def data_bound(self) -> bool:
        """Whether the latest breakdown spent more than :data:`DATA_BOUND_FRAC` of its time waiting for data."""
        return (self.timing.get(TIMING_FRACTIONS["data"]) or 0.0) > DATA_BOUND_FRAC

    def eta_s(self) -> float:
        """Seconds left until ``max_steps`` at the current step rate (NaN when unknown)."""
        max_steps = self.max_steps
        rate = self.steps_per_s_smooth
        if max_steps is None or not rate or math.isnan(rate) or self.finished:
            return NAN
        return max(0, max_steps - self.step) / rate

    def mean_steps_per_s(self) -> float:
        """Steps per second over the engine's whole run so far (since its start or resume; NaN when unknown)."""
        start = self.run_start.get("resumed_from_step") or 0
        if not self.elapsed_s or math.isnan(self.elapsed_s):
            return NAN
        return max(0, self.step - start) / self.elapsed_s


def _fold_stats(state: RunState, ev: Event) -> None:
    state.stats_t.append(ev["t"])
    state.cpu.append(ev.get("cpu_percent") or 0.0)
    state.rss.append(ev.get("rss_bytes") or 0.0)
    if isinstance(pool := ev.get("data"), dict) and not ev.get("process"):
        state.pool = pool
    for gpu in ev.get("gpus") or ():
        index = int(gpu.get("index", 0))
        hist = state.gpus.get(index)
        if hist is None:
            hist = state.gpus[index] = GpuHistory(name=str(gpu.get("name", f"gpu{index}")))
        hist.util.append(gpu.get("util_percent") or 0.0)
        hist.mem_used.append(gpu.get("mem_used_bytes") or 0.0)
        hist.mem_total = gpu.get("mem_total_bytes") or hist.mem_total


def _fold_other(state: RunState, ev: Event, kind: object) -> None:
    if kind == "stats":
        _fold_stats(state, ev)
    elif kind == "log":
        state.book.add_event(ev)
    elif kind == "status":
        state.status = str(ev.get("state", "unknown"))
        state.reason = ev.get("reason")
        if state.finished:
            state.busy = ""
        if isinstance(ev.get("step"), int):
            state.step, state.step_seq = ev["step"], ev["seq"]
        state.book.add_event(ev)
    elif kind == "checkpoint":
        state.checkpoints.append(ev)
        state.kept = list(ev.get("kept") or [])
        state.book.add_event(ev)
    elif kind == "run_start":
        state.run_start = ev
        state.status, state.reason, state.busy = "starting", None, ""
        resumed = ev.get("resumed_from_step")
        if isinstance(resumed, int):
            for series in state.series.values():
                series.truncate(resumed + 1)
            state.media.truncate(resumed + 1)
            state.step, state.step_seq = resumed, ev["seq"]
    elif not _fold_rare(state, ev, kind) and kind not in _ARTIFACT_KINDS:
        state.unknown += 1


def _fold_rare(state: RunState, ev: Event, kind: object) -> bool:
    """Compile, failed-checkpoint, media and busy events; False for other kinds."""
    if kind == "compile":
        state.compiles[str(ev.get("name", ""))] = ev
    elif kind == "checkpoint_failed":
        state.book.add_event(ev)
    elif kind in MEDIA_KINDS:
        state.media.add(ev)
    elif kind == "busy":
        what = ev.get("what")
        state.busy = f"{what} at step {ev.get('step')}" if what else ""
    else:
        return False
    return True


def _value_columns(values: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """One list per metric name; a metric missing from an event gets :data:`_MISSING` there."""
    first = values[0]
    if len(set(map(len, values))) == 1:
        try:  # every dict has len(first) keys and each of first's keys: all have exactly first's keys
            return {name: list(map(operator.itemgetter(name), values)) for name in first}
        except KeyError:
            pass
    names = dict.fromkeys(name for v in values for name in v)
    return {name: [v.get(name, _MISSING) for v in values] for name in names}


def _fold_scalars(
    state: RunState, phase: str, steps: list[Any], times: list[Any], values: list[dict[str, Any]]
) -> None:
    """Appends the columns of a batch of ``scalars`` events of one phase (C-level maps, no per-event calls).

    A batch whose steps go back somewhere (a resume without its ``run_start`` in view) is folded as consecutive
    increasing segments, each replacing what it overlaps.
    """
    if len(steps) > 1 and any(map(operator.le, steps[1:], steps)):
        start = 0
        for i in range(1, len(steps)):
            if steps[i] <= steps[i - 1]:
                _fold_scalars(state, phase, steps[start:i], times[start:i], values[start:i])
                start = i
        _fold_scalars(state, phase, steps[start:], times[start:], values[start:])
        return
    for name, full in _value_columns(values).items():
        column = full
        s = state.series.get((name, phase))
        if s is None:
            s = state.series[name, phase] = Series(recent=state.recent)
        if _MISSING in column:
            keep = [i for i, value in enumerate(column) if value is not _MISSING]
            if not keep:
                continue
            new_steps = [steps[i] for i in keep]
            new_times = [times[i] for i in keep]
            column = [column[i] for i in keep]
        else:
            new_steps, new_times = steps, times
        column, has_none = numbers(column)  # a value of the wrong type is not charted (NaN); the others are
        if new_steps[0] <= s.last_step:
            s.truncate(new_steps[0])
        s.steps.extend(new_steps)
        s.times.extend(new_times)
        s.values.extend([NAN if value is None else value for value in column] if has_none else column)
        if len(s.values) >= 2 * s.recent:
            s.compact()


def _positions(kinds: list[Any], kind: Any) -> list[int]:
    """Indices of ``kind`` in ``kinds``, found by C-level ``list.index`` scans (cheap for rare kinds)."""
    out = []
    i = -1
    try:
        while True:
            i = kinds.index(kind, i + 1)
            out.append(i)
    except ValueError:
        return out


def _fold_train_rates(state: RunState, train: list[Event]) -> None:
    """The step, the latest rates and the smoothed step rate from a batch of ``train`` scalars.

    Older windows weigh < 0.9**64 ~ 1e-3 in the smoothed rate, so a long batch needs only its tail.
    """
    last = train[-1]
    if last["seq"] > state.step_seq:
        state.step, state.step_seq = last.get("step", 0), last["seq"]
    state.samples_per_s = last.get("samples_per_s") or NAN
    state.steps_per_s = last.get("steps_per_s") or NAN
    state.elapsed_s = last.get("elapsed_s") or NAN
    for ev in train[-_RATE_WINDOWS:]:
        rate = ev.get("steps_per_s")
        if rate and isinstance(rate, int | float):  # event_check checks the last event's rates only
            old = state.steps_per_s_smooth
            state.steps_per_s_smooth = rate if math.isnan(old) else RATE_SMOOTHING * old + (1 - RATE_SMOOTHING) * rate


@dataclass
class _PhaseBatch:
    """The ``scalars`` events of one phase in a batch, with the columns the fold reads."""

    events: list[Event]
    steps: list[Any]
    times: list[Any]
    values: list[dict[str, Any]]


def _by_phase(scalars: list[Event], times: list[Any]) -> dict[str, _PhaseBatch]:
    """Splits a batch of ``scalars`` events (and their times) by phase, checking them by columns on the way.

    Events of a batch that fails the column checks are filtered one by one (see :mod:`xaxtui.event_check`); the
    caller counts the difference.
    """
    columns = scalar_columns(scalars)
    if columns is None:
        scalars = only_valid(scalars)
        if not scalars:
            return {}
        times = [ev["t"] for ev in scalars]
        steps = [ev["step"] for ev in scalars]
        phases = [ev.get("phase", "train") for ev in scalars]
        values = [ev.get("values") or {} for ev in scalars]
    else:
        steps, phases, values = columns
    if phases.count(phases[0]) == len(phases):
        return {phases[0]: _PhaseBatch(scalars, steps, times, values)}
    out = {}
    for phase in dict.fromkeys(phases):
        mask = list(map(operator.eq, phases, repeat(phase)))
        out[phase] = _PhaseBatch(*(list(compress(column, mask)) for column in (scalars, steps, times, values)))
    return out


def _fold_segment(state: RunState, events: list[Event], kinds: list[Any], times: list[Any]) -> None:
    """Folds events that hold no ``run_start``: other kinds in order, ``scalars`` in bulk per phase.

    The step lines of the log pane go between the other kinds' lines in ``seq`` order.
    """
    n_scalars = kinds.count("scalars")
    if n_scalars == len(events):
        scalars, scalar_times = events, times
    else:
        mask = list(map(operator.eq, kinds, repeat("scalars")))
        scalars, scalar_times = list(compress(events, mask)), list(compress(times, mask))
    by_phase = _by_phase(scalars, scalar_times) if scalars else {}
    state.rejected += len(scalars) - sum(len(batch.events) for batch in by_phase.values())
    timing = by_phase.pop(TIMING_PHASE, None)
    step_lines = state.book.step_lines({p: b.events for p, b in by_phase.items()}, state.max_steps) if by_phase else []
    if n_scalars != len(events):
        others = sorted(i for kind in set(kinds) if kind != "scalars" for i in _positions(kinds, kind))
        for i in others:
            if step_lines:
                step_lines = merge_step_lines(state.book, step_lines, events[i]["seq"])
            _fold_other(state, events[i], kinds[i])
    if step_lines:
        merge_step_lines(state.book, step_lines, math.inf)
    if timing:  # the step-time breakdown: the header shows the latest; it is not charted
        state.timing = timing.events[-1].get("values") or {}
    for phase, batch in by_phase.items():
        _fold_scalars(state, phase, batch.steps, batch.times, batch.values)
    train = by_phase.get("train")
    if train:
        _fold_train_rates(state, train.events)


def fold(state: RunState, events: Iterable[Event]) -> RunState:
    """Folds events into a run state (in place, for speed) and returns it.

    ``scalars`` events are appended in bulk per phase; a ``run_start`` splits the batch, so that a resume's
    truncation applies to the points logged before it and not to those after.

    Args:
        state: The state to extend.
        events: Decoded events in increasing ``seq`` order (as every source delivers them); those with
            ``seq <= state.last_seq`` (a reconnect's replay, which comes first) are skipped.

    Returns:
        The same ``state``.
    """
    events = events if isinstance(events, list) else list(events)
    skip = 0
    while skip < len(events) and events[skip]["seq"] <= state.last_seq:
        skip += 1
    if skip:
        events = events[skip:]
    if not events:
        return state
    try:
        kinds = list(map(_KIND, events))
    except KeyError:
        kinds = [ev.get("kind") for ev in events]
    last_seq = events[-1]["seq"]
    times = time_column(events)
    if times is None or not all(valid(events[i]) for k in set(kinds) - {"scalars"} for i in _positions(kinds, k)):
        kept = only_valid(events)
        state.rejected += len(events) - len(kept)
        events, kinds, times = kept, [ev["kind"] for ev in kept], [ev["t"] for ev in kept]
    if not events:
        state.last_seq = last_seq
        return state
    start = 0
    if "run_start" in kinds:
        for i, kind in enumerate(kinds):
            if kind == "run_start":
                _fold_segment(state, events[start:i], kinds[start:i], times[start:i])
                _fold_other(state, events[i], kind)
                start = i + 1
    if start:
        _fold_segment(state, events[start:], kinds[start:], times[start:])
    else:
        _fold_segment(state, events, kinds, times)
    if math.isnan(state.first_t):
        state.first_t = times[0]
    state.last_t = times[-1]
    state.last_seq = last_seq
    state.events += len(events)
    return state


def add_log(state: RunState, t: float, level: str, message: str) -> RunState:
    """Adds a line of the TUI's own (a launch's command, an exit status) as it is."""
    state.book.add(t, level, message)
    return state


def add_engine_line(state: RunState, t: float, level: str, message: str) -> RunState:
    """Adds a human line from the engine's stderr (or a source's note) unless it echoes an event (see LogBook)."""
    state.book.add_engine(t, level, message)
    return state
