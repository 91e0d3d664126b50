"""Which decoded events the fold can trust: the types of the fields it reads, checked per batch at C speed.

The reader (``protocol.decode``) guarantees an object with a string ``kind`` and an integer ``seq``; anything else can
be of any type in a file a user hands us (a hand-edited line, another tool's output, a future engine). A batch of
well-formed events passes :func:`time_column` and :func:`scalar_columns` (a few C-level ``map`` calls, whose columns
the fold then uses) and :func:`valid` for its rare other kinds, and is folded as it is; any other batch is filtered
event by event with :func:`valid` (an event whose fields the fold reads have the wrong type is dropped and counted,
never raised). Metric values of the wrong type in a good ``scalars`` event are the fold's to replace by NaN
(:func:`numbers`): the event's other values still count.
"""

import math
import operator
from typing import Any

from xaxengine.protocol import Event

NUMBER = frozenset({int, float})
_N = (int, float)
_NN = (int, float, type(None))
_SN = (str, type(None))
_LN = (list, type(None))
_DN = (dict, type(None))
_VALUE = frozenset({int, float, type(None)})
_STR = frozenset({str})
_DICT = frozenset({dict, type(None)})

# per kind: the fields the fold reads and the types each may have when present (strict: a bool is no number)
FIELDS: dict[str, dict[str, tuple[type, ...]]] = {
    "scalars": {"step": _N, "phase": (str,), "values": _DN, "samples_per_s": _NN, "steps_per_s": _NN, "elapsed_s": _NN},
    "status": {"state": (str,), "reason": _SN, "step": _NN},
    "stats": {"cpu_percent": _NN, "rss_bytes": _NN, "mem_percent": _NN, "gpus": _LN, "data": _DN, "process": _NN},
    "checkpoint": {"step": _NN, "path": _SN, "bytes": _NN, "save_s": _NN, "kept": _LN},
    "checkpoint_failed": {"step": _NN, "reason": _SN, "message": _SN},
    "log": {"level": _SN, "message": _SN},
    "run_start": {"run_id": _SN, "task": _SN, "config": _DN, "max_steps": _NN, "resumed_from_step": _NN},
    "compile": {"name": _SN},
    "busy": {"what": _SN, "step": _NN},
}
_GPU: dict[str, tuple[type, ...]] = {
    "index": _NN,
    "name": _SN,
    "util_percent": _NN,
    "mem_used_bytes": _NN,
    "mem_total_bytes": _NN,
}
_T = operator.itemgetter("t")
_STEP = operator.itemgetter("step")
_PHASE = operator.itemgetter("phase")
_VALUES = operator.itemgetter("values")


def _typed(ev: Event, fields: dict[str, tuple[type, ...]]) -> bool:
    return all(type(ev[name]) in types for name, types in fields.items() if name in ev)


def finite_number(value: object) -> bool:
    """Whether ``value`` is a finite int or float (a bool is not)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def valid(ev: Event) -> bool:
    """Whether the fold can read ``ev``: a finite ``t``, and each field it reads of the type it expects."""
    if not finite_number(ev.get("t")):
        return False
    kind = ev["kind"]
    fields = FIELDS.get(kind)
    if fields is None or not _typed(ev, fields):
        return fields is None  # a kind the fold does not read (media, future kinds) is the reader's to judge
    if kind == "scalars":
        return finite_number(ev.get("step"))
    if kind == "stats":
        return all(isinstance(gpu, dict) and _typed(gpu, _GPU) for gpu in ev.get("gpus") or ())
    if kind == "checkpoint":
        return all(type(step) in NUMBER for step in ev.get("kept") or ())
    return True


def time_column(events: list[Event]) -> list[Any] | None:
    """Every event's ``t`` when all are numbers (one C-level pass; JSON numbers are always finite), else None."""
    try:
        times = list(map(_T, events))
    except KeyError:
        return None
    return times if set(map(type, times)) <= NUMBER else None


def scalar_columns(scalars: list[Event]) -> tuple[list[Any], list[Any], list[Any]] | None:
    """Steps, phases and value dicts of a batch of ``scalars`` events when every one is :func:`valid`, else None.

    Checked by columns at C speed, and the columns are the fold's (no second extraction). None also when an optional
    field is missing somewhere: the caller filters and reads the batch event by event.
    """
    try:
        steps = list(map(_STEP, scalars))
        phases = list(map(_PHASE, scalars))
        values = list(map(_VALUES, scalars))
    except KeyError:
        return None
    value_types = set(map(type, values))
    ok = set(map(type, steps)) <= NUMBER and set(map(type, phases)) <= _STR and value_types <= _DICT
    last = scalars[-1]  # the header's rates come from the last event (the smoothed rate skips non-numbers)
    if not ok or not all(type(last.get(name)) in _NN for name in ("samples_per_s", "steps_per_s", "elapsed_s")):
        return None
    if type(None) in value_types:
        values = [v or {} for v in values]
    return steps, phases, values


def only_valid(events: list[Event]) -> list[Event]:
    """The events of a batch that are :func:`valid`."""
    return [ev for ev in events if valid(ev)]


def numbers(column: list[Any]) -> tuple[list[Any], bool]:
    """A column of metric values as the fold stores them, and whether it holds a None (NaN).

    Numbers and None stay as they are, anything else becomes None: one C-level pass over a clean column.
    """
    types = set(map(type, column))
    if types <= _VALUE:
        return column, type(None) in types
    return [v if type(v) in _VALUE else None for v in column], True
