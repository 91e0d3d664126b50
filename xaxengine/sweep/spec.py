"""The sweep file (``*.sweep.toml``): a base task file, an objective, a search space, a sampler, a budget.

The top level is a config dataclass, so :func:`xaxengine.config.build_config` checks its keys and types with the
same one-line, ``file:line``, did-you-mean errors as task files. The ``[params]`` table maps a dotted task field to
one distribution (``log_uniform``, ``uniform``, ``int``, ``choice``, ``grid``) and an optional ``when`` condition.
This module never imports jax or optuna.
"""

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import tomli_w

from xaxengine.config import ConfigError, build_config, did_you_mean, field, key_line, read_toml_text

DISTRIBUTIONS = ("log_uniform", "uniform", "int", "choice", "grid")
MODIFIERS = ("step", "log", "when")
SCALAR_TYPES = (bool, int, float, str)
_BARE_KEY_RE = re.compile(r"^[A-Za-z0-9_-]+$")
_DOTTED_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*(\.[A-Za-z_][A-Za-z0-9_-]*)*$")


@dataclass(kw_only=True)
class SweepFile:
    """What a ``*.sweep.toml`` holds (top-level keys; ``[params]`` is the search space)."""

    task: str = field(help="The base task file, relative to the sweep file (e.g. 'mnist.toml').")
    objective: str = field("valid/loss", help="The metric to optimize as 'phase/name', e.g. 'valid/accuracy'.")
    direction: Literal["minimize", "maximize"] = field("minimize", help="Whether a larger objective is better.")
    objective_step: Literal["last", "best", "mean_last"] = field(
        "last", help="Which logged value scores a trial: the last, the best, or the mean of the last objective_k."
    )
    objective_k: int = field(3, help="How many of the last values objective_step = 'mean_last' averages.")
    trials: int = field(20, help="Trials in the sweep (all workers together; failed and pruned ones count).")
    timeout_s: float = field(0.0, help="Wall-clock budget of a driver in seconds: no trial starts after it (0: none).")
    parallel: int = field(1, help="Trials a driver runs at once (one GPU each, or an equal share of the CPU cores).")
    sampler: Literal["tpe", "random", "grid", "cmaes"] = field("tpe", help="Optuna sampler.")
    seed: int = field(0, help="Seed of the sampler.")
    pruner: Literal["median", "successive_halving", "asha", "none"] = field(
        "median", help="Optuna pruner; it reads every logged objective value of a running trial."
    )
    prune_startup_trials: int = field(3, help="Median pruner: finished trials needed before it prunes.")
    prune_warmup_steps: int = field(0, help="Median pruner: no trial is pruned before this step.")
    overrides: list[str] = field([], help="Dotted overrides applied to every trial, e.g. 'train.max_steps=300'.")
    enqueue: list[dict[str, Any]] = field([], help="Trials to run first, each a table of param values.")
    params: dict[str, dict[str, Any]] = field(help="The search space: dotted task field -> a distribution table.")


@dataclass(frozen=True)
class Param:
    """One dimension of the search space.

    Attributes:
        name: The dotted task field, e.g. ``optimizer.lr``.
        kind: ``float``, ``int`` or ``categorical``.
        low: Lower bound (float and int).
        high: Upper bound, inclusive.
        log: Sample on a log scale.
        step: Grid step of a float or int range (None: continuous / 1).
        choices: The values of a categorical; non-scalar values (lists, tables) travel as JSON strings in Optuna.
        when: Conditions on earlier params: the param exists only when each named param has one of the values.
        line: The sweep file line of the param, for errors.
    """

    name: str
    kind: Literal["float", "int", "categorical"]
    low: float = 0.0
    high: float = 0.0
    log: bool = False
    step: float | None = None
    choices: tuple[Any, ...] = ()
    when: tuple[tuple[str, tuple[Any, ...]], ...] = ()
    line: int | None = None

    def active(self, values: dict[str, Any]) -> bool:
        """Whether this param is sampled, given the values of the params before it."""
        return all(name in values and values[name] in allowed for name, allowed in self.when)

    def probe_values(self) -> list[Any]:
        """Values that stand for the whole range when checking it against the task's config: ends and choices."""
        if self.kind == "categorical":
            return list(self.choices)
        return [int(self.low), int(self.high)] if self.kind == "int" else [self.low, self.high]


@dataclass
class SweepSpec:
    """A parsed sweep file: its settings, search space, base task path and text (for copies and errors)."""

    path: Path
    text: str
    file: SweepFile
    params: list[Param]
    task_path: Path

    @property
    def objective_phase(self) -> str:
        """The ``phase`` of the scalars events that carry the objective (``valid`` in ``valid/accuracy``)."""
        return self.file.objective.partition("/")[0]

    @property
    def objective_name(self) -> str:
        """The value name inside those events (``accuracy`` in ``valid/accuracy``)."""
        return self.file.objective.partition("/")[2]

    def where(self, param: Param | None = None, key: str = "") -> str:
        """``file:line: `` for a param (or a top-level key), for error messages."""
        line = param.line if param is not None else key_line(self.text, key)
        return f"{self.path}:{line}: " if line else f"{self.path}: "


def load_sweep(path: str | Path, task_path: Path | None = None) -> SweepSpec:
    """Reads and checks a sweep file.

    Args:
        path: The ``*.sweep.toml`` file.
        task_path: The base task file, when known already (a resumed sweep's copy keeps the original's path).

    Returns:
        The parsed sweep.

    Raises:
        ConfigError: One line naming the file, line and field: bad TOML, an unknown key (with a did-you-mean), a
            wrong type, a malformed distribution, a ``when`` on an unknown or later param, a missing task file.
    """
    path = Path(path)
    text, data = read_toml_text(path)
    file = build_config(SweepFile, data, source=str(path), toml_text=text)
    spec = SweepSpec(path, text, file, [], task_path or (path.resolve().parent / file.task))
    _check_top_level(spec)
    spec.params = [_parse_param(spec, name, table) for name, table in file.params.items()]
    _check_conditions(spec)
    _check_sampler(spec)
    _check_enqueue(spec)
    return spec


def _check_top_level(spec: SweepSpec) -> None:
    file = spec.file
    if not spec.task_path.is_file():
        raise ConfigError(f"{spec.where(key='task')}task file {file.task!r} not found (looked for {spec.task_path})")
    phase, _, name = file.objective.partition("/")
    if not phase or not name:
        raise ConfigError(f"{spec.where(key='objective')}objective must be 'phase/name', got {file.objective!r}")
    for key, value, least in (
        ("trials", file.trials, 1),
        ("parallel", file.parallel, 1),
        ("objective_k", file.objective_k, 1),
    ):
        if value < least:
            raise ConfigError(f"{spec.where(key=key)}{key} must be at least {least}, got {value}")
    if file.timeout_s < 0:
        raise ConfigError(f"{spec.where(key='timeout_s')}timeout_s must be >= 0, got {file.timeout_s}")
    if not file.params:
        raise ConfigError(f"{spec.where(key='params')}[params] is empty: give at least one dotted field to search")
    for override in file.overrides:
        if "=" not in override:
            raise ConfigError(f"{spec.where(key='overrides')}override {override!r}: expected KEY=VALUE")


def _parse_param(spec: SweepSpec, name: str, table: dict[str, Any]) -> Param:
    line = key_line(spec.text, f"params.{name}")
    where = f"{spec.path}:{line}: " if line else f"{spec.path}: "
    label = f"params {name!r}"
    if not _DOTTED_RE.match(name):
        raise ConfigError(f"{where}{label}: expected a dotted field name such as 'optimizer.lr'")
    for key in table:
        if key not in DISTRIBUTIONS + MODIFIERS:
            raise ConfigError(f"{where}{label}: unknown key {key!r}{did_you_mean(key, DISTRIBUTIONS + MODIFIERS)}")
    kinds = [k for k in DISTRIBUTIONS if k in table]
    if len(kinds) != 1:
        found = f"got {', '.join(kinds)}" if kinds else "got none"
        raise ConfigError(f"{where}{label}: give exactly one of {', '.join(DISTRIBUTIONS)} ({found})")
    kind, value = kinds[0], table[kinds[0]]
    when = _parse_when(where, label, table.get("when"))
    if kind in ("choice", "grid"):
        if not isinstance(value, list) or not value:
            raise ConfigError(f"{where}{label}: {kind} must be a non-empty list of values, got {value!r}")
        if "step" in table or "log" in table:
            raise ConfigError(f"{where}{label}: step and log apply to ranges, not to {kind}")
        return Param(name, "categorical", choices=tuple(value), when=when, line=line)
    low, high, step, log = _parse_range(where, label, kind, value, table)
    number_kind = "int" if kind == "int" else "float"
    return Param(name, number_kind, low=low, high=high, log=log, step=step, when=when, line=line)


def _parse_range(
    where: str, label: str, kind: str, value: Any, table: dict[str, Any]
) -> tuple[float, float, Any, bool]:
    """Checks a ``log_uniform``, ``uniform`` or ``int`` range; returns its low, high, step and log flag."""
    low, high = _bounds(where, label, kind, value)
    step, log = table.get("step"), table.get("log", False)
    if not isinstance(log, bool):
        raise ConfigError(f"{where}{label}: log must be true or false, got {log!r}")
    log = log or kind == "log_uniform"
    if log and low <= 0:
        raise ConfigError(f"{where}{label}: a log scale needs low > 0, got {value!r}")
    if step is not None and (isinstance(step, bool) or not isinstance(step, int | float) or step <= 0):
        raise ConfigError(f"{where}{label}: step must be a positive number, got {step!r}")
    if kind == "int" and step is not None and not isinstance(step, int):
        raise ConfigError(f"{where}{label}: an int range needs an integer step, got {step!r}")
    if kind != "int" and log and step is not None:
        raise ConfigError(f"{where}{label}: a log-scale float range takes no step")
    return low, high, step, log


def _bounds(where: str, label: str, kind: str, value: Any) -> tuple[float, float]:
    number = (int,) if kind == "int" else (int, float)
    ok = isinstance(value, list) and len(value) == 2
    ok = ok and all(isinstance(v, number) and not isinstance(v, bool) and math.isfinite(v) for v in value)
    if not ok:
        what = "two integers" if kind == "int" else "two finite numbers"
        raise ConfigError(f"{where}{label}: {kind} must be [low, high] with {what}, got {value!r}")
    low, high = value
    if low >= high:
        raise ConfigError(f"{where}{label}: {kind} needs low < high, got {value!r}")
    return low, high


def _parse_when(where: str, label: str, when: Any) -> tuple[tuple[str, tuple[Any, ...]], ...]:
    if when is None:
        return ()
    if not isinstance(when, dict) or not when:
        raise ConfigError(f'{where}{label}: when must be a table such as {{ model = "cnn" }}, got {when!r}')
    return tuple((str(k), tuple(v) if isinstance(v, list) else (v,)) for k, v in when.items())


def _check_conditions(spec: SweepSpec) -> None:
    seen: dict[str, Param] = {}
    for param in spec.params:
        for name, allowed in param.when:
            if name not in seen:
                hint = did_you_mean(name, list(seen))
                later = " (it must come before this param)" if any(p.name == name for p in spec.params) else ""
                raise ConfigError(
                    f"{spec.where(param)}params {param.name!r}: when names {name!r}, not an earlier param{later}{hint}"
                )
            other = seen[name]
            if other.kind == "categorical" and (bad := [v for v in allowed if v not in other.choices]):
                raise ConfigError(
                    f"{spec.where(param)}params {param.name!r}: when {name} = {bad[0]!r}, which {name!r} never takes"
                )
        seen[param.name] = param


def _check_sampler(spec: SweepSpec) -> None:
    if spec.file.sampler != "grid":
        return
    for param in spec.params:
        if param.kind != "categorical" or param.when:
            raise ConfigError(
                f"{spec.where(param)}params {param.name!r}: sampler 'grid' needs every param as an unconditional "
                "choice or grid list"
            )


def _check_enqueue(spec: SweepSpec) -> None:
    names = [p.name for p in spec.params]
    for index, values in enumerate(spec.file.enqueue):
        for name in values:
            if name not in names:
                raise ConfigError(
                    f"{spec.where(key='enqueue')}enqueue[{index}]: {name!r} is not a param{did_you_mean(name, names)}"
                )


def grid_size(spec: SweepSpec) -> int:
    """How many points the grid sampler's space has (the product of the choice counts)."""
    return math.prod(len(p.choices) for p in spec.params)


def toml_value(value: Any) -> str:
    """A value written as one line of TOML (``0.001``, ``"adamw"``, ``[32, 64]``, ``{ a = 1 }``, ``nan``)."""
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        items = (
            f"{k if _BARE_KEY_RE.match(str(k)) else json.dumps(str(k))} = {toml_value(v)}" for k, v in value.items()
        )
        return "{ " + ", ".join(items) + " }"
    return tomli_w.dumps({"v": value}).partition("=")[2].strip()


def trial_overrides(spec: SweepSpec, values: dict[str, Any]) -> list[str]:
    """The overrides of one trial: the sweep's own, then ``field=value`` for each sampled param."""
    return [*spec.file.overrides, *(f"{name}={toml_value(value)}" for name, value in values.items())]


@dataclass
class ObjectiveTracker:
    """The objective values one trial logged, by step; a resumed run's repeated steps replace the earlier ones."""

    direction: str
    step_rule: str
    k: int
    by_step: dict[int, float]

    def add(self, step: int, value: float) -> None:
        """Records the objective at a step."""
        self.by_step[step] = value

    def value(self) -> float | None:
        """The trial's score under the sweep's ``objective_step`` rule; None when nothing was logged."""
        if not self.by_step:
            return None
        ordered = [self.by_step[s] for s in sorted(self.by_step)]
        if self.step_rule == "best":
            return max(ordered) if self.direction == "maximize" else min(ordered)
        if self.step_rule == "mean_last":
            tail = ordered[-self.k :]
            return sum(tail) / len(tail)
        return ordered[-1]


def new_tracker(spec: SweepSpec) -> ObjectiveTracker:
    """An empty tracker following the sweep's direction and step rule."""
    return ObjectiveTracker(spec.file.direction, spec.file.objective_step, spec.file.objective_k, {})
