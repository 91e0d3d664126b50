"""The Optuna side of a sweep: its folder, storage, sampler, pruner, search space and ``best.toml``.

``RUNS_DIR/sweeps/<sweep_id>/`` holds ``sweep.toml`` (a copy of the sweep file), ``sweep.json`` (where the base task
is, the storage, the task's run folder), ``study.journal`` (the default storage, an Optuna journal file),
``status.json`` (progress for ``sweep ls`` and the TUI, rewritten after each trial), ``best.toml``, ``logs/`` (each
trial engine's stdout and stderr) and ``workers/<host>-<pid>/lock`` (held by each live driver). The study is named
by the sweep id.
"""

import json
import math
import os
import socket
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import optuna
import tomlkit

from xaxengine.config import ConfigError, apply_overrides
from xaxengine.runs import resolve_runs_dir
from xaxengine.sweep.spec import Param, SweepSpec

SWEEPS_DIR = "sweeps"
META_FILE = "sweep.json"
STATUS_FILE = "status.json"
SWEEP_COPY = "sweep.toml"
BEST_FILE = "best.toml"
JOURNAL_PREFIX = "journal:"


@dataclass
class SweepMeta:
    """What a driver needs to resume or join a sweep besides its sweep file (``sweep.json``, study user attrs)."""

    sweep_id: str
    task_path: str
    task_dir: str
    storage: str
    runs_dir: str
    created_t: float

    def to_json(self) -> str:
        """The ``sweep.json`` text."""
        return json.dumps(asdict(self), indent=2) + "\n"


def sweeps_root(runs_dir: str | os.PathLike[str] | None) -> Path:
    """``RUNS_DIR/sweeps``."""
    return resolve_runs_dir(runs_dir) / SWEEPS_DIR


def find_sweep(spec: str, runs_dir: str | os.PathLike[str] | None) -> Path:
    """Resolves a SWEEP argument (its folder, or its id or id prefix under ``RUNS_DIR/sweeps``).

    Raises:
        ConfigError: Nothing or several sweeps match.
    """
    path = Path(spec)
    if (path / META_FILE).is_file():
        return path
    root = sweeps_root(runs_dir)
    matches = sorted(p.parent for p in root.glob(f"{spec}*/{META_FILE}")) if "/" not in spec else []
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        raise ConfigError(f"sweep {spec!r} is ambiguous under {root}: {', '.join(m.name for m in matches)}")
    raise ConfigError(f"sweep {spec!r} not found (not a sweep folder, nor a sweep id under {root})")


def read_meta(sweep_dir: Path) -> SweepMeta:
    """Reads ``sweep.json``."""
    try:
        return SweepMeta(**json.loads((sweep_dir / META_FILE).read_text()))
    except (OSError, ValueError, TypeError) as error:
        raise ConfigError(f"{sweep_dir / META_FILE}: unreadable sweep metadata ({error})") from None


def write_atomic(path: Path, text: str) -> None:
    """Writes a small text file through a temporary file and ``os.replace``."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def default_storage(sweep_dir: Path) -> str:
    """A journal file in the sweep folder (``journal:SWEEP_DIR/study.journal``).

    Chosen over SQLite because opening it costs a driver almost nothing (SQLite through SQLAlchemy cost about 0.6 s
    of CPU per driver start, half of a short sweep's driver overhead), and because several drivers, also on several
    nodes of a shared filesystem, may append to it (SQLite over NFS is not safe for several writers).
    """
    return f"{JOURNAL_PREFIX}{(sweep_dir / 'study.journal').resolve()}"


def open_storage(url: str) -> Any:
    """An Optuna storage for a URL.

    ``journal:PATH`` is a journal file (for several processes, also on a shared filesystem); anything else is an RDB
    URL (``sqlite:///...``, ``postgresql://...``, ``mysql://...``).
    """
    if url.startswith(JOURNAL_PREFIX):
        from optuna.storages import JournalStorage
        from optuna.storages.journal import JournalFileBackend

        path = Path(url[len(JOURNAL_PREFIX) :]).expanduser()
        path.parent.mkdir(parents=True, exist_ok=True)
        return JournalStorage(JournalFileBackend(str(path)))
    return url


class AskTellGridSampler(optuna.samplers.GridSampler):
    """Optuna's grid sampler without its ``study.stop()`` once the grid is done.

    That call raises outside ``study.optimize``, so the last grid trial's ``tell`` would fail; the driver caps the
    budget at the grid's size instead.
    """

    def after_trial(self, study: Any, trial: Any, state: Any, values: Any) -> None:
        """Does nothing (see the class)."""
        del study, trial, state, values


def make_sampler(spec: SweepSpec, seed: int) -> optuna.samplers.BaseSampler:
    """The sampler the sweep file names, seeded with ``seed``."""
    file = spec.file
    if file.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if file.sampler == "grid":
        space = {p.name: [encode_choice(p, c) for c in p.choices] for p in spec.params}
        return AskTellGridSampler(space, seed=seed)
    if file.sampler == "cmaes":
        return optuna.samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False)
    return optuna.samplers.TPESampler(seed=seed)


def make_pruner(spec: SweepSpec) -> optuna.pruners.BasePruner:
    """The pruner the sweep file names."""
    file = spec.file
    if file.pruner == "median":
        return optuna.pruners.MedianPruner(
            n_startup_trials=file.prune_startup_trials, n_warmup_steps=file.prune_warmup_steps
        )
    if file.pruner in ("successive_halving", "asha"):
        return optuna.pruners.SuccessiveHalvingPruner()
    return optuna.pruners.NopPruner()


def open_study(spec: SweepSpec, meta: SweepMeta, create: bool, seed: int) -> optuna.Study:
    """Creates (or loads) the study named by the sweep id; a new one gets the sweep's enqueued trials.

    A driver that resumes or joins passes its own ``seed``: a sampler restarted with the first driver's seed would
    propose the first trials' params again.
    """
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = open_storage(meta.storage)
    direction = spec.file.direction
    sampler, pruner = make_sampler(spec, seed), make_pruner(spec)
    if not create:
        try:
            return optuna.load_study(study_name=meta.sweep_id, storage=storage, sampler=sampler, pruner=pruner)
        except KeyError:
            raise ConfigError(f"sweep {meta.sweep_id!r}: no such study in storage {meta.storage}") from None
    study = optuna.create_study(
        study_name=meta.sweep_id, storage=storage, sampler=sampler, pruner=pruner, direction=direction
    )
    study.set_user_attr("meta", asdict(meta))
    study.set_user_attr("sweep_text", spec.text)
    for values in spec.file.enqueue:
        study.enqueue_trial({name: encode_choice(_param(spec, name), v) for name, v in values.items()})
    return study


def _param(spec: SweepSpec, name: str) -> Param:
    return next(p for p in spec.params if p.name == name)


def encode_choice(param: Param, value: Any) -> Any:
    """A categorical value as Optuna stores it: scalars as they are, lists and tables as JSON text."""
    if param.kind != "categorical" or value is None or isinstance(value, bool | int | float | str):
        return value
    return json.dumps(value)


def _decode_choice(param: Param, value: Any) -> Any:
    if isinstance(value, str) and any(not isinstance(c, bool | int | float | str) for c in param.choices):
        for choice in param.choices:
            if encode_choice(param, choice) == value:
                return choice
    return value


def suggest(trial: optuna.Trial, spec: SweepSpec) -> dict[str, Any]:
    """Samples the trial's params in file order, skipping those whose ``when`` is not met; returns field -> value."""
    values: dict[str, Any] = {}
    for param in spec.params:
        if not param.active(values):
            continue
        if param.kind == "float":
            values[param.name] = trial.suggest_float(param.name, param.low, param.high, log=param.log, step=param.step)
        elif param.kind == "int":
            values[param.name] = trial.suggest_int(
                param.name, int(param.low), int(param.high), log=param.log, step=int(param.step or 1)
            )
        else:
            encoded = trial.suggest_categorical(param.name, [encode_choice(param, c) for c in param.choices])
            values[param.name] = _decode_choice(param, encoded)
    return values


def decoded_params(spec: SweepSpec, params: dict[str, Any]) -> dict[str, Any]:
    """A finished trial's params with JSON-encoded choices turned back into values, in file order."""
    return {p.name: _decode_choice(p, params[p.name]) for p in spec.params if p.name in params}


def worker_name() -> str:
    """This driver's name in trial records and under ``workers/``: ``<host>-<pid>``."""
    return f"{socket.gethostname()}-{os.getpid()}"


def write_best_toml(spec: SweepSpec, params: dict[str, Any], path: Path) -> None:
    """Writes the base task file with the sweep's overrides and the best params applied, comments kept."""
    document = tomlkit.parse(spec.task_path.read_text(encoding="utf-8"))
    changes = apply_overrides({}, spec.file.overrides)
    for name, value in params.items():
        node = changes
        *parents, leaf = name.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    _merge(document, changes)
    header = (
        f"# best trial of sweep {path.parent.name}: written by xaxengine sweep; run it with `xaxengine run {path}`\n"
    )
    write_atomic(path, header + tomlkit.dumps(document))


def _merge(table: Any, changes: dict[str, Any]) -> None:
    for key, value in changes.items():
        if isinstance(value, dict):
            if key not in table or not isinstance(table[key], dict):
                table[key] = tomlkit.table()
            _merge(table[key], value)
        else:
            table[key] = value


def finite(value: float | None) -> bool:
    """Whether an objective value is a usable number."""
    return value is not None and math.isfinite(value)
