"""Slurm jobs of runs: the job id a run dir records, the job's state, signals through ``scancel``, ``--wait``.

A run submitted with ``xaxengine slurm --submit`` keeps its job id in ``RUN_DIR/slurm_job``, so ``xaxengine stop`` /
``checkpoint`` reach its engines on whatever nodes they run (``scancel --signal=TERM`` / ``USR1`` signals the job
steps, not the batch shell, which must live on to let ``srun`` finish) and ``--wait`` follows the events file until
Slurm says the job is over. The job's state comes from ``scontrol show job`` (no accounting database needed). No jax.
"""

import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import TextIO

from xaxengine.protocol import TERMINAL_STATES, Kind, LineReader, State, encode
from xaxengine.runs import EVENTS_FILE, SLURM_JOB_FILE, RunError, lock_held
from xaxengine.slurm_jobs import ACTIVE, job_state, recorded_job, slurm_tool
from xaxengine.task.launchers.child import mark_failed

EXIT_FOR_STATUS = {State.FINISHED: 0, State.INTERRUPTED: 143, State.FAILED: 1}


def record_job(run_dir: Path, job_id: str) -> None:
    """Writes the job id into the run directory (created if the job has not started yet)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / SLURM_JOB_FILE).write_text(f"{job_id}\n")


def signal_job(run_dir: Path, signum: int) -> str | None:
    """Sends ``signum`` to the engines of a Slurm run (``scancel --signal``); None when the run is not a Slurm job.

    Returns:
        What was done, one line.

    Raises:
        RunError: Slurm's tools are missing, or the job is not running (pending, ended, forgotten).
    """
    job_id = recorded_job(run_dir)
    if job_id is None:
        return None
    state = job_state(job_id)
    if state is None or state.state not in ACTIVE:
        said = state.describe() if state is not None else f"job {job_id} is unknown to Slurm (ended long ago?)"
        raise RunError(f"{run_dir}: no engine to signal: {said}")
    name = signal.Signals(signum).name.removeprefix("SIG")
    done = subprocess.run(
        [slurm_tool("scancel"), f"--signal={name}", job_id], capture_output=True, text=True, check=False, timeout=30
    )
    if done.returncode:
        raise RunError(f"scancel --signal={name} {job_id} failed: {(done.stderr or done.stdout).strip()}")
    return f"sent {name} to Slurm job {job_id} ({state.nodes})"


def follow(job_id: str, run_dir: Path, out: TextIO, err: TextIO, poll_s: float = 1.0, settle_s: float = 60.0) -> int:
    """Prints the run's events as they arrive (like ``xaxengine tail --follow``) until the job has ended.

    A requeued job keeps being followed: its resumed engines append to the same events file. Changes of the job's
    state (pending and why, running where, requeued) go to ``err`` as one line each. A job that ended before its run
    reported an end (its node failed, it was cancelled while pending or compiling) gets a ``status: failed`` event
    saying what Slurm said, so the run reads ``failed`` with the reason instead of ``dead``; it is written only once
    no engine holds the run's lock (waiting up to ``settle_s`` for engines that still save after Slurm gave up on
    their node), so the engine's own events and ``seq`` stay whole.

    Returns:
        The job's result (:attr:`JobState.result`); when Slurm has already forgotten the job, the exit code of the
        run's last status (finished 0, interrupted 143, failed 1; 1 without one).
    """
    reader = LineReader()
    path = run_dir / EVENTS_FILE
    offset, last_status, said, ended_polls = 0, None, "", 0

    def drain() -> None:  # prints the events written since the last call; keeps the last status
        nonlocal offset, last_status
        if not path.exists():
            return
        with open(path, "rb") as handle:
            handle.seek(offset)
            chunk = handle.read()
        offset += len(chunk)
        events = reader.feed(chunk)
        if events:
            out.write(b"".join(encode(e) for e in events).decode())
            out.flush()
        last_status = next((e["state"] for e in reversed(events) if e["kind"] == Kind.STATUS), last_status)

    while True:
        state = job_state(job_id)
        drain()
        if state is not None and state.describe() != said:
            said = state.describe()
            err.write(f"xaxengine slurm: {said}\n")
            err.flush()
        if state is None:
            err.write(
                f"xaxengine slurm: job {job_id} is no longer known to Slurm; the run's last status: {last_status}\n"
            )
            return EXIT_FOR_STATUS.get(last_status, 1)
        # an ended state must hold for two polls: a preempted or failed job with --requeue goes back to PENDING
        ended_polls = ended_polls + 1 if state.ended else 0
        if ended_polls >= 2:
            deadline = time.monotonic() + settle_s
            while last_status not in TERMINAL_STATES and lock_held(run_dir) and time.monotonic() < deadline:
                time.sleep(poll_s)  # Slurm says ended while an engine still saves on a node it gave up on
                drain()
            if last_status not in TERMINAL_STATES and not lock_held(run_dir):  # no engine will say it any more
                why = f" ({state.reason})" if state.reason and state.reason != "None" else ""
                reason = f"Slurm job {job_id} ended {state.state}{why} before the engine reported an end"
                out.flush()
                mark_failed(run_dir, reason, events_to_stdout=out is sys.stdout)
            return state.result
        time.sleep(poll_s)
