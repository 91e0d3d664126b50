"""``xaxengine sweep``: start, resume, join, list and stop sweeps (never imports jax).

    xaxengine sweep FILE.sweep.toml [--runs-dir DIR] [--storage URL]
    xaxengine sweep --resume SWEEP [--runs-dir DIR] [--storage URL]
    xaxengine sweep --join SWEEP --storage URL [--runs-dir DIR]
    xaxengine sweep ls [--runs-dir DIR] [--json]
    xaxengine sweep stop SWEEP [--runs-dir DIR]
    xaxengine sweep prune SWEEP TRIAL [--runs-dir DIR]   (prune a running trial by hand)
    xaxengine sweep parallel SWEEP N [--runs-dir DIR]    (the running drivers take up N trials at once)
    xaxengine sweep schema                       (the sweep file's fields as JSON, for forms)

SWEEP is a sweep id (or a prefix of one) under ``RUNS_DIR/sweeps/``, or that folder. Bad input exits 2 with one
line; a sweep exits 0 when its budget is spent, 1 when no trial completed, 130/143 when it was stopped.
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import time
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from xaxengine.config import ConfigError
from xaxengine.exit_codes import EXIT_BAD_INPUT
from xaxengine.runs import SLURM_JOB_FILE, RunError, live_pid, new_run_id, resolve_runs_dir
from xaxengine.sweep.spec import SweepSpec, load_sweep

RUNNING_STATES = ("launching", "starting", "compiling", "running")  # a status row's states with a live engine

if TYPE_CHECKING:  # the study module imports optuna; `sweep ls` and `sweep stop` do without it
    from xaxengine.sweep.study import SweepMeta


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="xaxengine sweep", description="Run a hyper-parameter sweep with Optuna.")
    parser.add_argument(
        "file",
        nargs="?",
        help="A *.sweep.toml file (or 'ls', 'schema', 'stop SWEEP', 'prune SWEEP TRIAL', 'parallel SWEEP N').",
    )
    parser.add_argument("sweep", nargs="?", help=argparse.SUPPRESS)
    parser.add_argument("value", nargs="?", help=argparse.SUPPRESS)
    parser.add_argument("--resume", metavar="SWEEP", help="Continue a sweep: keep finished trials, resume the rest.")
    parser.add_argument("--join", metavar="SWEEP", help="Add this driver as one more worker of a sweep's study.")
    parser.add_argument(
        "--storage",
        metavar="URL",
        help="Optuna storage: journal:PATH (default SWEEP_DIR/study.journal), sqlite:///F, postgresql://...",
    )
    parser.add_argument("--runs-dir", help="Runs root (default: $XAX_RUNS_DIR or ./runs).")
    parser.add_argument("--json", action="store_true", help="ls: print JSON.")
    return parser


def main(argv: Sequence[str]) -> int:
    """Runs ``xaxengine sweep ARGV``; returns the exit code."""
    args = _parser().parse_args(list(argv))
    try:
        return _dispatch(args)
    except (ConfigError, RunError) as error:
        sys.stderr.write(f"xaxengine: error: {error}\n")
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        return 130


def _dispatch(args: argparse.Namespace) -> int:
    if args.file == "ls":
        return _cmd_ls(args)
    if args.file == "schema":
        return _cmd_schema()
    if args.file == "stop":
        if not args.sweep:
            raise ConfigError("sweep stop: give the sweep id or folder")
        return _cmd_stop(args.sweep, args.runs_dir)
    if args.file in ("prune", "parallel"):
        what = "TRIAL" if args.file == "prune" else "N"
        if not args.sweep or args.value is None:
            raise ConfigError(f"sweep {args.file}: give the sweep id or folder and {what}")
        command = _cmd_prune if args.file == "prune" else _cmd_parallel
        return command(args.sweep, _whole_number(args.file, what, args.value), args.runs_dir)
    if args.sweep or args.value is not None:
        raise ConfigError(f"sweep: unexpected argument {args.sweep or args.value!r}")
    if sum(bool(x) for x in (args.file, args.resume, args.join)) != 1:
        raise ConfigError("sweep: give a sweep file, or --resume SWEEP, or --join SWEEP --storage URL")
    if args.join and not args.storage:
        raise ConfigError("sweep --join: give --storage URL (the study the other workers use)")
    if args.file:
        return _start_new(Path(args.file), args.runs_dir, args.storage)
    return _continue(args.resume or args.join, args.runs_dir, args.storage, joining=bool(args.join))


def check_space(path: Path, task_path: Path) -> str:
    """Checks the search space against the task's config in a subprocess (it imports jax).

    Returns:
        The task's run folder name (``mnist`` for ``MnistTask``).

    Raises:
        ConfigError: The subprocess's one-line error.
    """
    argv = [sys.executable, "-m", "xaxengine.sweep.check", str(path), str(task_path)]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if not lines:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise ConfigError(f"{path}: checking the search space failed: {tail}")
    result = json.loads(lines[-1])
    if not result["ok"]:
        raise ConfigError(result["error"])
    return str(result["task_dir"])


def create_sweep(
    path: Path, runs_dir: str | None, storage: str | None, joinable: bool = False
) -> tuple[SweepSpec, "SweepMeta", Path]:
    """Checks a sweep file and creates its folder (``RUNS_DIR/sweeps/<stem>-<id>/``), running no trial.

    Args:
        path: The sweep file.
        runs_dir: The runs root (``--runs-dir``).
        storage: The Optuna storage URL (default: a journal file in the sweep folder).
        joinable: Also create the study and ``sweep.json`` now, so that drivers started elsewhere ``--join`` it.

    Returns:
        The sweep, its metadata and its folder.

    Raises:
        ConfigError: A bad sweep file or a search space the task's config refuses.
    """
    from xaxengine.sweep.study import (
        SWEEP_COPY,
        SweepMeta,
        default_storage,
        open_study,
        sweeps_root,
        write_atomic,
    )

    spec = load_sweep(path)
    task_dir = check_space(path, spec.task_path)
    stem = path.name.removesuffix(".toml").removesuffix(".sweep")
    sweep_id = f"{stem}-{new_run_id()}"
    sweep_dir = sweeps_root(runs_dir) / sweep_id
    sweep_dir.mkdir(parents=True)
    write_atomic(sweep_dir / SWEEP_COPY, spec.text)
    meta = SweepMeta(
        sweep_id=sweep_id,
        task_path=str(spec.task_path.resolve()),
        task_dir=task_dir,
        storage=storage or default_storage(sweep_dir),
        runs_dir=str(resolve_runs_dir(runs_dir).resolve()),
        created_t=time.time(),
    )
    if joinable:
        open_study(spec, meta, create=True, seed=spec.file.seed)
        write_atomic(sweep_dir / "sweep.json", meta.to_json())
    return spec, meta, sweep_dir


def _start_new(path: Path, runs_dir: str | None, storage: str | None) -> int:
    spec, meta, sweep_dir = create_sweep(path, runs_dir, storage)
    return _drive(spec, meta, sweep_dir, create=True)


def _continue(name: str, runs_dir: str | None, storage: str | None, joining: bool) -> int:
    from xaxengine.sweep.study import SWEEP_COPY, find_sweep, read_meta

    try:
        sweep_dir = find_sweep(name, runs_dir)
    except ConfigError:
        if not joining:
            raise
        sweep_dir = _bootstrap_from_storage(name, runs_dir, str(storage))
    meta = read_meta(sweep_dir)
    if storage:
        meta.storage = storage
    spec = load_sweep(sweep_dir / SWEEP_COPY, task_path=Path(meta.task_path))
    return _drive(spec, meta, sweep_dir, create=False)


def _bootstrap_from_storage(sweep_id: str, runs_dir: str | None, storage: str) -> Path:
    """A local sweep folder for a worker on a machine that does not share the first one's: from the study."""
    import optuna

    from xaxengine.sweep.study import SWEEP_COPY, SweepMeta, open_storage, sweeps_root, write_atomic

    try:
        study = optuna.load_study(study_name=sweep_id, storage=open_storage(storage))
    except KeyError:
        raise ConfigError(f"sweep {sweep_id!r}: no such study in storage {storage}") from None
    meta = SweepMeta(**study.user_attrs["meta"])
    meta.runs_dir, meta.storage = str(resolve_runs_dir(runs_dir).resolve()), storage
    sweep_dir = sweeps_root(runs_dir) / sweep_id
    sweep_dir.mkdir(parents=True, exist_ok=True)
    write_atomic(sweep_dir / SWEEP_COPY, study.user_attrs["sweep_text"])
    write_atomic(sweep_dir / "sweep.json", meta.to_json())
    return sweep_dir


def _drive(spec: SweepSpec, meta: "SweepMeta", sweep_dir: Path, create: bool) -> int:
    from xaxengine.sweep.driver import SweepDriver
    from xaxengine.sweep.report import Reporter
    from xaxengine.sweep.study import open_study, worker_name, write_atomic

    seed = spec.file.seed if create else spec.file.seed ^ zlib.crc32(worker_name().encode())
    study = open_study(spec, meta, create=create, seed=seed)
    if create:  # written once the study exists: a driver that joins by this folder finds both
        write_atomic(sweep_dir / "sweep.json", meta.to_json())
    reporter = Reporter(f"sweep {meta.sweep_id}", spec.file.objective)
    reporter.line(f"sweep {meta.sweep_id}: {spec.file.trials} trials, {spec.file.parallel} at once ({sweep_dir})")
    code = SweepDriver(spec, meta, sweep_dir, study, reporter).run()
    if code == 0 and not any(t.state.name == "COMPLETE" for t in study.get_trials(deepcopy=False)):
        return 1
    return code


def _sweep_dirs(runs_dir: str | None) -> list[Path]:
    from xaxengine.sweep.study import META_FILE, sweeps_root

    return sorted(p.parent for p in sweeps_root(runs_dir).glob(f"*/{META_FILE}"))


def _live_workers(sweep_dir: Path) -> list[int]:
    workers = sweep_dir / "workers"
    pids = [live_pid(d) for d in sorted(workers.iterdir())] if workers.is_dir() else []
    return [p for p in pids if p is not None]


def sweep_summary(sweep_dir: Path) -> dict[str, object]:
    """One sweep for ``sweep ls`` (and the TUI picker): id, state, progress, best value, folder."""
    try:
        status = json.loads((sweep_dir / "status.json").read_text())
    except (OSError, ValueError):
        status = {}
    if not isinstance(status, dict):  # garbled: valid JSON but not the driver's object
        status = {}
    alive = bool(_live_workers(sweep_dir))
    state = "running" if alive else str(status.get("state", "created"))
    if state == "running" and not alive:
        state = "dead"  # its drivers were killed; --resume continues it
    best = status.get("best") or {}
    return {
        "sweep_id": sweep_dir.name,
        "state": state,
        "done": status.get("done", 0),
        "trials": status.get("trials"),
        "objective": status.get("objective"),
        "best_value": best.get("value") if isinstance(best, dict) else None,
        "best_trial": best.get("number") if isinstance(best, dict) else None,
        "dir": str(sweep_dir),
    }


def _cmd_schema() -> int:
    from xaxengine.config import config_schema
    from xaxengine.sweep.spec import DISTRIBUTIONS, MODIFIERS, SweepFile

    payload = {"fields": config_schema(SweepFile), "distributions": list(DISTRIBUTIONS), "modifiers": list(MODIFIERS)}
    sys.stdout.write(json.dumps(payload) + "\n")
    return 0


def _cmd_ls(args: argparse.Namespace) -> int:
    rows = [sweep_summary(d) for d in _sweep_dirs(args.runs_dir)]
    if args.json:
        sys.stdout.write(json.dumps(rows) + "\n")
        return 0
    lines = [f"{'SWEEP':<36} {'STATE':<9} {'DONE':>7} {'BEST':>10}  {'OBJECTIVE':<16} DIR"]
    for r in rows:
        best = f"{r['best_value']:.5g}" if isinstance(r["best_value"], float) else "-"
        done = f"{r['done']}/{r['trials'] if r['trials'] is not None else '?'}"
        lines.append(
            f"{r['sweep_id']:<36} {r['state']:<9} {done:>7} {best:>10}  {r['objective'] or '-':<16} {r['dir']}"
        )
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


def _cmd_stop(name: str, runs_dir: str | None) -> int:
    from xaxengine.sweep.study import find_sweep

    sweep_dir = find_sweep(name, runs_dir)
    pids = _live_workers(sweep_dir)
    if not pids and (sweep_dir / SLURM_JOB_FILE).exists():
        return _stop_array(sweep_dir)
    if not pids:
        raise RunError(f"{sweep_dir}: no live driver runs this sweep (continue it with --resume)")
    for pid in pids:
        os.kill(pid, signal.SIGTERM)
        sys.stdout.write(f"sent SIGTERM to sweep driver pid {pid} (its trials checkpoint and stop)\n")
    return 0


def _stop_array(sweep_dir: Path) -> int:
    """Sends SIGTERM to the sweep drivers of a Slurm job array (``scancel --signal=TERM`` reaches their steps)."""
    from xaxengine.slurm_jobs import ACTIVE, job_task_states, slurm_tool

    job_id = (sweep_dir / SLURM_JOB_FILE).read_text().strip()
    states = job_task_states(job_id)
    if not any(s.state in ACTIVE for s in states):
        said = "; ".join(s.describe() for s in states) or f"job {job_id} is unknown to Slurm (ended long ago?)"
        raise RunError(f"{sweep_dir}: no sweep driver to signal: {said}")
    done = subprocess.run(
        [slurm_tool("scancel"), "--signal=TERM", job_id], capture_output=True, text=True, check=False, timeout=30
    )
    if done.returncode:
        raise RunError(f"scancel --signal=TERM {job_id} failed: {(done.stderr or done.stdout).strip()}")
    sys.stdout.write(f"sent TERM to the sweep drivers of Slurm job {job_id} (their trials checkpoint and stop)\n")
    return 0


def _whole_number(command: str, what: str, text: str) -> int:
    try:
        return int(text.removeprefix("t"))
    except ValueError:
        raise ConfigError(f"sweep {command}: {what} must be a whole number, got {text!r}") from None


def _live_sweep(name: str, runs_dir: str | None) -> Path:
    from xaxengine.sweep.study import find_sweep

    sweep_dir = find_sweep(name, runs_dir)
    if not _live_workers(sweep_dir):
        raise RunError(f"{sweep_dir}: no live driver runs this sweep (continue it with --resume)")
    return sweep_dir


def _cmd_prune(name: str, number: int, runs_dir: str | None) -> int:
    """Asks the driver that runs trial ``number`` to prune it (it checkpoints, ends interrupted, PRUNED)."""
    from xaxengine.sweep.control import request_prune

    sweep_dir = _live_sweep(name, runs_dir)
    try:
        rows = json.loads((sweep_dir / "status.json").read_text()).get("rows", [])
    except (OSError, ValueError, AttributeError):
        rows = []
    states = {r.get("number"): str(r.get("state")) for r in rows if isinstance(r, dict)}
    if number not in states:
        raise RunError(f"{sweep_dir}: no trial {number} in this sweep")
    if states[number] not in RUNNING_STATES:
        raise RunError(f"{sweep_dir}: trial {number} is {states[number]}, not running")
    request_prune(sweep_dir, number)
    sys.stdout.write(f"asked the sweep driver to prune trial {number} (it checkpoints and stops)\n")
    return 0


def _cmd_parallel(name: str, parallel: int, runs_dir: str | None) -> int:
    """Sets how many trials each live driver of the sweep runs at once (from its next loop, and on --resume)."""
    from xaxengine.sweep.control import MAX_PARALLEL, request_parallel

    if not 1 <= parallel <= MAX_PARALLEL:
        raise ConfigError(f"sweep parallel: N must be between 1 and {MAX_PARALLEL}, got {parallel}")
    sweep_dir = _live_sweep(name, runs_dir)
    request_parallel(sweep_dir, parallel)
    sys.stdout.write(f"asked the sweep drivers to run {parallel} trials at once\n")
    return 0
