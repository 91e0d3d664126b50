"""The search space as the sweep view plots it: each param's axis, and the objective-against-param points.

Textual-free. The axes come from the sweep folder's copy of the sweep file (``sweep.toml``: ``log_uniform`` or
``log = true`` ranges on a log axis, ``choice``/``grid`` params by category index, in the file's order); a param the
file does not describe (or an unreadable file) is inferred from the trials' values. Points skip what cannot be placed
(no objective value, a missing or non-finite param, a non-positive value on a log axis) and count it.
"""

import json
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from xaxtui.sweeps import SweepStatus, TrialInfo

SWEEP_COPY = "sweep.toml"
Scale = Literal["linear", "log", "choice"]


@dataclass(frozen=True)
class ParamAxis:
    """How one param is drawn on the x axis.

    Attributes:
        name: The dotted field (``optimizer.lr``).
        scale: ``linear``, ``log`` (positions are log10 of the value) or ``choice`` (positions are category indices).
        choices: The categories, in order (``choice`` only).
    """

    name: str
    scale: Scale = "linear"
    choices: tuple[Any, ...] = ()

    def position(self, value: Any) -> float | None:
        """Where ``value`` goes on the axis, or None when it cannot be drawn."""
        if self.scale == "choice":
            key = _key(value)
            return next((float(i) for i, c in enumerate(self.choices) if _key(c) == key), None)
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            return None
        if self.scale == "log":
            return math.log10(value) if value > 0 else None
        return float(value)

    def labels(self) -> list[str]:
        """The category labels (``choice`` only)."""
        return [c if isinstance(c, str) else json.dumps(c) for c in self.choices]


@dataclass
class Points:
    """One param's scatter: positions, objective values and the trials they come from.

    Attributes:
        x: Axis positions (see :meth:`ParamAxis.position`).
        y: Objective values (finite).
        trials: The trials, in the same order.
        skipped: Trials with a param value or objective that could not be drawn.
    """

    x: list[float] = field(default_factory=list)
    y: list[float] = field(default_factory=list)
    trials: list[TrialInfo] = field(default_factory=list)
    skipped: int = 0


def _key(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def read_space(sweep_dir: Path) -> list[ParamAxis]:
    """The axes of the params in ``sweep_dir/sweep.toml``, in file order; [] when the file is missing or bad."""
    try:
        params = tomllib.loads((sweep_dir / SWEEP_COPY).read_text()).get("params")
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return []
    if not isinstance(params, dict):
        return []
    axes = []
    for name, table in params.items():
        if not isinstance(table, dict):
            continue
        listed = table.get("choice", table.get("grid"))
        if isinstance(listed, list):
            axes.append(ParamAxis(str(name), "choice", tuple(listed)))
        else:
            log = "log_uniform" in table or table.get("log") is True
            axes.append(ParamAxis(str(name), "log" if log else "linear"))
    return axes


def param_axes(sweep: SweepStatus, space: list[ParamAxis]) -> list[ParamAxis]:
    """The space's axes, then one per param only the trials name (numbers: linear; anything else: categories)."""
    known = {a.name for a in space}
    axes = list(space)
    for name in dict.fromkeys(n for t in sweep.rows for n in t.params):
        if name in known:
            continue
        values = [t.params[name] for t in sweep.rows if name in t.params]
        numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
        if numeric:
            axes.append(ParamAxis(name))
        else:
            distinct = {_key(v): v for v in values}
            axes.append(ParamAxis(name, "choice", tuple(distinct[k] for k in sorted(distinct))))
    return axes


def scatter_points(sweep: SweepStatus, axis: ParamAxis) -> Points:
    """Each trial with an objective value against its value of ``axis``'s param."""
    points = Points()
    for trial in sweep.rows:
        if axis.name not in trial.params:
            continue  # a conditional param this trial did not sample
        if trial.value is None:
            points.skipped += trial.state == "complete"  # its objective was not finite (running ones have none yet)
            continue
        x = axis.position(trial.params[axis.name])
        if x is None:
            points.skipped += 1
            continue
        points.x.append(x)
        points.y.append(trial.value)
        points.trials.append(trial)
    return points
