"""The commands that only read or signal run directories: ``ls``, ``tail``, ``stop``, ``checkpoint`` (no jax).

They answer from the run catalogue (:mod:`xaxengine.catalog`), so they are fast over SSH and agree with the TUI.
"""

import argparse
import json
import os
import signal
import sys
import time
from pathlib import Path

from xaxengine.catalog import engine_alive, find_run, list_runs, read_run_info
from xaxengine.event_file import FollowedFile
from xaxengine.exit_codes import EXIT_OK
from xaxengine.protocol import TERMINAL_STATES, Event, Kind, LineReader, encode
from xaxengine.runs import EVENTS_FILE, RunError, live_pid, resolve_runs_dir
from xaxengine.task.launchers.slurm_control import signal_job

READ_BYTES = 1 << 20
POLL_S = 0.05
IDLE_EXIT_S = 3.0  # a follower of a run whose engine is gone ends after this long without new lines


def cmd_ls(args: argparse.Namespace) -> int:
    """``xaxengine ls [--runs-dir D] [--json]``: every run, oldest first, as a table or a JSON list.

    A Slurm run's row ends with its job as Slurm sees it (``job 12 PENDING (Priority)``; only ``job 12`` where Slurm
    cannot be asked); in JSON its ``slurm`` holds ``job_id``, ``state``, ``reason``, ``nodes`` (null elsewhere).
    A run the user tagged or archived (``RUN_DIR/notes.json``) ends with its tags (``[best, lr-sweep]``) and
    ``(archived)``; JSON rows carry ``tags``, ``note``, ``archived``, ``config`` and ``best_valid_loss``.
    """
    runs = list_runs(resolve_runs_dir(args.runs_dir))
    if args.json:
        sys.stdout.write(json.dumps([r.to_dict() for r in runs]) + "\n")
        return EXIT_OK
    rows = [f"{'RUN':<22} {'TASK':<34} {'STATE':<12} {'STEP':>8} {'LOSS':>10}  DIR"]
    for r in runs:
        loss = f"{r.last_loss:.4g}" if r.last_loss is not None else "-"
        slurm = f"  {r.slurm.describe()}" if r.slurm is not None else ""
        tags = f"  [{', '.join(r.tags)}]" if r.tags else ""
        archived = "  (archived)" if r.archived else ""
        line = f"{r.run_id:<22} {r.task:<34} {r.state:<12} {r.step:>8} {loss:>10}  {r.run_dir}{slurm}{tags}{archived}"
        rows.append(line)
    sys.stdout.write("\n".join(rows) + "\n")
    return EXIT_OK


def cmd_tail(args: argparse.Namespace) -> int:
    """``xaxengine tail RUN [--follow] [--from-seq N]``: the run's events as JSON lines on stdout.

    With ``--follow`` it ends after a final status once no engine holds the run, or when the engine is gone and
    nothing was written for :data:`IDLE_EXIT_S`.
    """
    run_dir = find_run(args.run, resolve_runs_dir(args.runs_dir))
    reader = LineReader(after_seq=args.from_seq - 1)
    out = sys.stdout.buffer
    try:
        followed = FollowedFile(run_dir / EVENTS_FILE, reader)
    except FileNotFoundError:
        raise RunError(f"{run_dir}: no {EVENTS_FILE}{_slurm_said(run_dir)}") from None
    state: object = None
    start: Event = {}
    idle_since = time.monotonic()
    try:
        while True:
            if (events := followed.read(READ_BYTES)) is not None:
                idle_since = time.monotonic()
                out.write(b"".join(encode(e) for e in events))
                out.flush()
                for e in events:
                    if e["kind"] == Kind.STATUS and isinstance(e.get("state"), str):  # a line of any type: no raise
                        state = e["state"]
                    elif e["kind"] == Kind.RUN_START:
                        start = e
                continue
            if not args.follow:
                return EXIT_OK
            if followed.check():  # truncated or replaced: read it again from the start
                continue
            alive = engine_alive(run_dir, start.get("pid"), start.get("host")) is True
            if not alive and (state in TERMINAL_STATES or time.monotonic() - idle_since > IDLE_EXIT_S):
                return EXIT_OK
            time.sleep(POLL_S)
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    finally:
        followed.close()


def _slurm_said(run_dir: Path) -> str:
    """``; Slurm job 12 PENDING (Priority)`` for a Slurm run (what Slurm says of its job), else nothing."""
    info = read_run_info(run_dir)
    if info is None or info.slurm is None:
        return ""
    return f"; {info.reason or 'Slurm ' + info.slurm.describe()}"


def cmd_signal(args: argparse.Namespace, signum: int) -> int:
    """``xaxengine stop|checkpoint RUN``: sends ``signum`` to the engine that runs it (the catalogue's liveness)."""
    run_dir = find_run(args.run, resolve_runs_dir(args.runs_dir))
    if (sent := signal_job(run_dir, signum)) is not None:  # a Slurm run: scancel reaches its nodes
        sys.stdout.write(f"{sent}\n")
        return EXIT_OK
    info = read_run_info(run_dir)
    pid = (info.pid if info.alive else None) if info is not None else live_pid(run_dir)
    if pid is None:
        raise RunError(f"{run_dir}: no live engine holds this run (it is finished, stopped or dead)")
    os.kill(pid, signum)
    sys.stdout.write(f"sent {signal.Signals(signum).name} to pid {pid}\n")
    return EXIT_OK


def cmd_stop(args: argparse.Namespace) -> int:
    """``xaxengine stop RUN``: SIGTERM (graceful stop: checkpoint, then exit 143)."""
    return cmd_signal(args, signal.SIGTERM)


def cmd_checkpoint(args: argparse.Namespace) -> int:
    """``xaxengine checkpoint RUN``: SIGUSR1 (save a checkpoint now)."""
    return cmd_signal(args, signal.SIGUSR1)
