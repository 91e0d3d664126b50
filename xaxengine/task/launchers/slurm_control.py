"""Slurm jobs of runs: the job id a run dir records, the job's state, signals through ``scancel``, ``--wait``.

A run submitted with ``xaxengine slurm --submit`` keeps its job id in ``RUN_DIR/slurm_job``, so ``xaxengine stop`` /
``checkpoint`` reach its engines on whatever nodes they run (``scancel --signal=TERM`` / ``USR1`` signals the job
steps, not the batch shell, which must live on to let ``srun`` finish) and ``--wait`` follows the events file until
Slurm says the job is over. The job's state comes from ``scontrol show job`` (no accounting database needed). No jax.
"""

import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from xaxengine.protocol import Kind, LineReader, State, encode
from xaxengine.runs import EVENTS_FILE, SLURM_JOB_FILE, RunError

# Job states after which the job never runs again (a requeued job goes back to PENDING instead).
ENDED = frozenset(
    {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "PREEMPTED", "OUT_OF_MEMORY", "BOOT_FAIL", "DEADLINE"}
)
ACTIVE = frozenset({"RUNNING", "COMPLETING", "SUSPENDED", "CONFIGURING", "STOPPED", "SIGNALING"})
EXIT_FOR_STATUS = {State.FINISHED: 0, State.INTERRUPTED: 143, State.FAILED: 1}


@dataclass(frozen=True)
class JobState:
    """What ``scontrol show job`` says about one job."""

    job_id: str
    state: str  # RUNNING, PENDING, COMPLETED, FAILED...
    reason: str  # why it pends or ended (``None`` when there is nothing to say)
    exit_code: int  # the batch script's exit code
    exit_signal: int  # the signal that ended it, 0 if none
    nodes: str  # the node list (empty while pending)
    restarts: int  # how often Slurm requeued it

    @property
    def ended(self) -> bool:
        """True once the job will not run again."""
        return self.state in ENDED

    @property
    def result(self) -> int:
        """The exit code ``--wait`` returns: 0 for COMPLETED, else the script's code, 128 + signal, or 1."""
        if self.state == "COMPLETED":
            return 0
        return self.exit_code or (128 + self.exit_signal if self.exit_signal else 1)

    def describe(self) -> str:
        """One line for the user: ``job 12 PENDING (Resources)``, ``job 12 RUNNING on node[1-2]``."""
        where = f" on {self.nodes}" if self.state in ACTIVE and self.nodes else ""
        why = f" ({self.reason})" if self.reason and self.reason != "None" else ""
        again = f", restart {self.restarts}" if self.restarts else ""
        return f"job {self.job_id} {self.state}{where}{why}{again}"


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise RunError(f"{name} not found on PATH: control Slurm runs from a node of the cluster")
    return found


def record_job(run_dir: Path, job_id: str) -> None:
    """Writes the job id into the run directory (created if the job has not started yet)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / SLURM_JOB_FILE).write_text(f"{job_id}\n")


def recorded_job(run_dir: Path) -> str | None:
    """The Slurm job id a run dir records, or None for a run that was not submitted to Slurm."""
    try:
        text = (run_dir / SLURM_JOB_FILE).read_text().strip()
    except OSError:
        return None
    return text or None


def job_state(job_id: str) -> JobState | None:
    """The job's state from ``scontrol show job``; None once Slurm has forgotten it (after ``MinJobAge``).

    Raises:
        RunError: ``scontrol`` is not on PATH.
    """
    done = subprocess.run(
        [_tool("scontrol"), "show", "job", "--oneliner", job_id], capture_output=True, text=True, check=False
    )
    if done.returncode or "JobState=" not in done.stdout:
        return None
    line = done.stdout.splitlines()[0]
    fields = dict(token.split("=", 1) for token in line.split() if "=" in token)
    code, _, sig = fields.get("ExitCode", "0:0").partition(":")
    return JobState(
        job_id=job_id,
        state=fields.get("JobState", "UNKNOWN"),
        reason=fields.get("Reason", ""),
        exit_code=int(code or 0),
        exit_signal=int(sig or 0),
        nodes=fields.get("NodeList", "") if fields.get("NodeList") != "(null)" else "",
        restarts=int(fields.get("Restarts", "0") or 0),
    )


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
        [_tool("scancel"), f"--signal={name}", job_id], capture_output=True, text=True, check=False, timeout=30
    )
    if done.returncode:
        raise RunError(f"scancel --signal={name} {job_id} failed: {(done.stderr or done.stdout).strip()}")
    return f"sent {name} to Slurm job {job_id} ({state.nodes})"


def follow(job_id: str, run_dir: Path, out: TextIO, err: TextIO, poll_s: float = 1.0) -> int:
    """Prints the run's events as they arrive (like ``xaxengine tail --follow``) until the job has ended.

    A requeued job keeps being followed: its resumed engines append to the same events file. Changes of the job's
    state (pending and why, running where, requeued) go to ``err`` as one line each.

    Returns:
        The job's result (:attr:`JobState.result`); when Slurm has already forgotten the job, the exit code of the
        run's last status (finished 0, interrupted 143, failed 1; 1 without one).
    """
    reader = LineReader()
    path = run_dir / EVENTS_FILE
    offset, last_status, said, ended_polls = 0, None, "", 0
    while True:
        state = job_state(job_id)
        if path.exists():
            with open(path, "rb") as handle:
                handle.seek(offset)
                chunk = handle.read()
            offset += len(chunk)
            events = reader.feed(chunk)
            if events:
                out.write(b"".join(encode(e) for e in events).decode())
                out.flush()
            last_status = next((e["state"] for e in reversed(events) if e["kind"] == Kind.STATUS), last_status)
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
            return state.result
        time.sleep(poll_s)
