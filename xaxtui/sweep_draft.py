"""A sweep file drafted from a task's fields (the config editor's sweep tab): ranges parsed, TOML written, checked.

Textual- and jax-free. The file is checked with the engine's own sweep loader (:func:`xaxengine.sweep.spec.load_sweep`,
which imports neither jax nor optuna) before it replaces anything: a draft the engine would refuse is never written.
"""

import contextlib
import math
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xaxengine.config import ConfigError
from xaxengine.files import atomic_write
from xaxengine.sweep.spec import SweepSpec, load_sweep, toml_value

RANGE_KINDS = ("log_uniform", "uniform", "int", "choice")
SAMPLERS = ("tpe", "random", "grid", "cmaes")
DIRECTIONS = ("minimize", "maximize")


@dataclass
class SweepDraft:
    """What the sweep tab holds.

    Attributes:
        ranges: Dotted field -> ``(distribution, values)``: ``[low, high]`` for ranges, the values for ``choice``.
        settings: Top-level keys (objective, direction, trials, parallel, sampler) as they are written.
    """

    ranges: dict[str, tuple[str, list[Any]]] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)


def sweep_path(task_path: Path) -> Path:
    """``mnist.sweep.toml`` beside ``mnist.toml``."""
    return task_path.with_name(f"{task_path.name.removesuffix('.toml')}.sweep.toml")


def parse_range(kind: str, text: str) -> list[Any]:
    """The values of one range typed as ``low, high`` (or ``a, b, c`` for ``choice``).

    Raises:
        ValueError: One line saying what is wrong.
    """
    if kind not in RANGE_KINDS:
        raise ValueError(f"unknown distribution {kind!r} (one of {', '.join(RANGE_KINDS)})")
    items = [item.strip() for item in text.strip().strip("[]").split(",") if item.strip()]
    if kind == "choice":
        if not items:
            raise ValueError("choice: give the values, separated by commas")
        return [_value(item) for item in items]
    if len(items) != 2:
        raise ValueError(f"{kind}: give two bounds, 'low, high' (got {text.strip()!r})")
    number = int if kind == "int" else float
    try:
        low, high = (number(item) for item in items)
    except ValueError:
        what = "integers" if kind == "int" else "numbers"
        raise ValueError(f"{kind}: the bounds must be {what}, got {text.strip()!r}") from None
    if not (math.isfinite(low) and math.isfinite(high)) or low >= high:
        raise ValueError(f"{kind}: needs finite bounds with low < high, got {text.strip()!r}")
    if kind == "log_uniform" and low <= 0:
        raise ValueError(f"log_uniform: needs low > 0, got {text.strip()!r}")
    return [low, high]


def _value(item: str) -> Any:
    """A choice typed as TOML (``64``, ``1e-3``, ``true``, ``"relu"``, ``[32, 64]``), else the plain text."""
    try:
        return tomllib.loads(f"v = {item}")["v"]
    except tomllib.TOMLDecodeError:
        return item.strip("\"'")


def suggest_range(spec: dict[str, Any]) -> tuple[str, str]:
    """A first range for a field of the schema, around its value: ``(distribution, bounds text)``."""
    value, kind = spec.get("value", spec.get("default")), str(spec.get("type", ""))
    if spec.get("choices"):
        return "choice", ", ".join(toml_value(c) for c in spec["choices"])
    if isinstance(value, bool) or kind == "bool":
        return "choice", "true, false"
    if isinstance(value, int) or kind == "int":
        base = value if isinstance(value, int) and value > 0 else 1
        return "int", f"{max(1, base // 2)}, {base * 2}"
    if isinstance(value, float) or kind == "float":
        if isinstance(value, float) and value > 0:
            return "log_uniform", f"{value / 10:g}, {value * 10:g}"
        return "uniform", "0.0, 1.0"
    return "choice", toml_value(value) if value is not None else ""


def draft_text(task_path: Path, draft: SweepDraft) -> str:
    """The ``*.sweep.toml`` text of a draft (the task as its file name: the sweep file sits beside it)."""
    lines = [f"# Written by xax-tui's sweep tab; run it with `xaxengine sweep {sweep_path(task_path).name}`.",
             f"task = {toml_value(task_path.name)}"]  # fmt: skip
    lines += [f"{key} = {toml_value(value)}" for key, value in draft.settings.items()]
    lines += ["", "[params]"]
    for name, (kind, values) in draft.ranges.items():
        key = name if name.replace("_", "").replace("-", "").isalnum() else toml_value(name)
        lines.append(f"{key} = {{ {kind} = {toml_value(values)} }}")
    return "\n".join(lines) + "\n"


def write_draft(task_path: Path, draft: SweepDraft) -> tuple[Path, SweepSpec]:
    """Writes the draft beside the task file once the engine's sweep loader accepts it.

    Returns:
        The file written and the sweep as the engine reads it.

    Raises:
        ValueError: The loader's one-line error (naming the final file); nothing is written then.
    """
    if not draft.ranges:
        raise ValueError("add at least one range (pick a field, a distribution and bounds)")
    path = sweep_path(task_path)
    check = path.with_name(f".{path.name}.{os.getpid()}.check.toml")
    text = draft_text(task_path, draft)
    check.write_text(text, encoding="utf-8")
    try:
        load_sweep(check)
    except ConfigError as error:
        raise ValueError(str(error).replace(str(check), str(path))) from None
    finally:
        with contextlib.suppress(OSError):
            check.unlink()
    atomic_write(path, text)
    return path, load_sweep(path)
