"""Declaring config fields: ``field(default, help=...)``, and the one-line :class:`ConfigError`."""

import copy
import dataclasses
import difflib
import math
import re
from collections.abc import Sequence
from dataclasses import MISSING
from typing import Any

_NEWLINES_RE = re.compile(r"\s*[\r\n]+\s*")


class ConfigError(Exception):
    """A bad config, TOML file, override or task spec; ``str(e)`` is always a single line."""

    def __init__(self, message: str) -> None:
        super().__init__(_NEWLINES_RE.sub(" ", str(message)).strip())


BOUNDS = ("ge", "gt", "le", "lt")
MAX_STEPS = 2**53  # steps above this lose integer precision as float64 (event timestamps, JSON readers)


def field(
    default: Any = MISSING,
    *,
    help: str,
    choices: Sequence[Any] | None = None,
    ge: float | None = None,
    gt: float | None = None,
    le: float | None = None,
    lt: float | None = None,
) -> Any:
    """Declares a config field with its help text and, for numbers, its bounds.

    The bounds are checked when the config is built (one line naming the field and the bound) and are part of the
    schema, so ``--help``, the generated reference and the TUI form show and check the same ones. A float field
    with any bound must also be finite.

    Args:
        default: The default value; a dataclass type makes a nested section built from its defaults; list, dict,
            set and dataclass-instance defaults are copied per instance. Leave it out for a required field.
        help: One line shown by ``--help``, the schema and the TUI form.
        choices: The allowed values, if restricted.
        ge: The value must be >= this.
        gt: The value must be > this.
        le: The value must be <= this.
        lt: The value must be < this.

    Returns:
        A ``dataclasses.field`` carrying ``{"help", "choices", "ge", "gt", "le", "lt"}`` metadata.
    """
    metadata = {"help": help, "choices": list(choices) if choices is not None else None}
    metadata.update({name: bound for name, bound in zip(BOUNDS, (ge, gt, le, lt), strict=True) if bound is not None})
    if isinstance(default, type) and dataclasses.is_dataclass(default):
        return dataclasses.field(default_factory=default, metadata=metadata)
    if isinstance(default, list | dict | set) or dataclasses.is_dataclass(default):
        value = default
        return dataclasses.field(default_factory=lambda: copy.deepcopy(value), metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def did_you_mean(name: str, known: Sequence[str]) -> str:
    """A `` (did you mean 'x'?)`` hint naming the closest known name, or ``""`` when none is close."""
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def bound_violation(value: Any, metadata: Any) -> str | None:
    """Why ``value`` breaks the bounds in a field's metadata (``"must be >= 1"``), or None when it keeps them."""
    bounds = {name: metadata[name] for name in BOUNDS if name in metadata}
    if not bounds or isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return "must be a finite number"
    checks = {"ge": value >= bounds.get("ge", value), "gt": "gt" not in bounds or value > bounds["gt"]}
    checks |= {"le": value <= bounds.get("le", value), "lt": "lt" not in bounds or value < bounds["lt"]}
    symbols = {"ge": ">=", "gt": ">", "le": "<=", "lt": "<"}
    failed = [f"{symbols[name]} {_number(bounds[name])}" for name in BOUNDS if name in bounds and not checks[name]]
    return f"must be {' and '.join(failed)}" if failed else None


def _number(bound: float) -> str:
    if isinstance(bound, int) and abs(bound) >= 2**20 and bound & (bound - 1) == 0:
        return f"2**{bound.bit_length() - 1}"
    return repr(bound)
