"""What Slurm says about a job: ``scontrol show job`` parsed into a :class:`JobState`. No jax, no textual.

Shared by the engine's Slurm commands (``xaxengine slurm --wait``, ``stop``/``checkpoint`` of a Slurm run) and by
anything that lists runs (``xaxengine ls``, the TUI's picker), so one parser answers for all of them.

A listing asks once for all its runs (:func:`job_states`): ``scontrol show job --oneliner`` without a job id prints
every job the controller still holds, one line each, in the same format as for one job, so the same parser reads it
and a picker with many Slurm runs costs one subprocess per refresh, not one per run. (``squeue -j id1,id2`` would
send less, but needs a second format and parser, and fails as a whole when one id was forgotten.) A run records its
job's ``SLURM_JOB_ID``; for a task of a job array that is the task's own id, and the lines of array tasks are also
found under ``ARRAYID_TASKID``, those of a still pending array (one line for a range of tasks) under each task's.
"""

import re
import shutil
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from xaxengine.runs import SLURM_JOB_FILE, RunError

# Job states after which the job never runs again (a requeued job goes back to PENDING instead).
ENDED = frozenset(
    {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "PREEMPTED", "OUT_OF_MEMORY", "BOOT_FAIL", "DEADLINE"}
)
# Ended states whose reason says why (NodeDown, NonZeroExitCode, OutOfMemory); the others keep the reason the job
# last waited for (a job cancelled while pending still says Priority), which is no longer true.
ENDED_FOR_A_REASON = frozenset({"FAILED", "NODE_FAIL", "BOOT_FAIL", "OUT_OF_MEMORY"})
ACTIVE = frozenset({"RUNNING", "COMPLETING", "SUSPENDED", "CONFIGURING", "STOPPED", "SIGNALING"})
WAITING = frozenset({"PENDING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "RESV_DEL_HOLD", "SPECIAL_EXIT"})
SCONTROL_TIMEOUT_S = 30.0  # past Slurm's own MessageTimeout (10 s): a controller that never answers must not hang
_TASK_RANGE = re.compile(r"^(\d+)(?:-(\d+))?(?::(\d+))?$")
MAX_ARRAY_TASKS = 100_000  # a pending array's range is expanded to task ids only up to this size


@dataclass(frozen=True)
class JobSummary:
    """What a run listing shows of a run's Slurm job (``state``, ``reason``, ``nodes`` None when Slurm can't tell).

    ``reason`` is why the job waits, or why it failed (``NodeDown``); None when Slurm has nothing true to say.
    """

    job_id: str
    state: str | None = None
    reason: str | None = None
    nodes: str | None = None
    restarts: int = 0

    def describe(self) -> str:
        """One line for the user: ``job 12 PENDING (Resources)``, ``job 12 RUNNING on node[1-2]``, ``job 12``."""
        if self.state is None:
            return f"job {self.job_id}"
        where = f" on {self.nodes}" if self.state in ACTIVE and self.nodes else ""
        why = f" ({self.reason})" if self.reason and self.reason != "None" else ""
        again = f", restart {self.restarts}" if self.restarts else ""
        return f"job {self.job_id} {self.state}{where}{why}{again}"


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

    def summary(self) -> JobSummary:
        """The part a run listing shows."""
        stale = self.state in ENDED and self.state not in ENDED_FOR_A_REASON
        reason = self.reason if self.reason not in ("", "None") and not stale else None
        return JobSummary(self.job_id, self.state, reason, self.nodes or None, self.restarts)

    def describe(self) -> str:
        """One line for the user: ``job 12 PENDING (Resources)``, ``job 12 RUNNING on node[1-2]``."""
        return self.summary().describe()


def slurm_tool(name: str) -> str:
    """The path of a Slurm command.

    Raises:
        RunError: It is not on PATH.
    """
    found = shutil.which(name)
    if found is None:
        raise RunError(f"{name} not found on PATH: control Slurm runs from a node of the cluster")
    return found


def recorded_job(run_dir: Path) -> str | None:
    """The Slurm job id a run dir records, or None for a run that was not submitted to Slurm."""
    try:
        text = (run_dir / SLURM_JOB_FILE).read_text().strip()
    except OSError:
        return None
    return text or None


def parse_job_line(line: str) -> JobState | None:
    """One line of ``scontrol show job --oneliner``; None when it is not a job's line."""
    fields = dict(token.split("=", 1) for token in line.split() if "=" in token)
    if "JobState" not in fields:
        return None
    code, _, sig = fields.get("ExitCode", "0:0").partition(":")
    return JobState(
        job_id=fields.get("JobId", ""),
        state=fields["JobState"],
        reason=fields.get("Reason", ""),
        exit_code=int(code) if code.isdigit() else 0,
        exit_signal=int(sig) if sig.isdigit() else 0,
        nodes=fields.get("NodeList", "") if fields.get("NodeList") != "(null)" else "",
        restarts=int(fields.get("Restarts", "0") or 0),
    )


def _array_ids(line: str) -> list[str]:
    """The ``ARRAYID_TASKID`` names of an array job's line (every task of a pending range such as ``1-8%2``)."""
    fields = dict(token.split("=", 1) for token in line.split() if "=" in token)
    array, tasks = fields.get("ArrayJobId"), fields.get("ArrayTaskId")
    if not array or not tasks:
        return []
    ids = []
    for part in tasks.split("%")[0].split(","):
        if (match := _TASK_RANGE.match(part)) is None:
            continue
        first, last, step = int(match[1]), int(match[2] or match[1]), int(match[3] or 1)
        if (last - first) // step < MAX_ARRAY_TASKS:
            ids += [f"{array}_{task}" for task in range(first, last + 1, step)]
    return ids


def parse_jobs(text: str) -> dict[str, JobState]:
    """Every job of ``scontrol show job --oneliner`` output, by job id (array tasks also by ``ARRAYID_TASKID``)."""
    jobs: dict[str, JobState] = {}
    for line in text.splitlines():
        if (job := parse_job_line(line)) is None:
            continue
        for job_id in (job.job_id, *_array_ids(line)):
            jobs.setdefault(job_id, replace(job, job_id=job_id))
    return jobs


def _scontrol(*args: str) -> subprocess.CompletedProcess[str]:
    """Runs ``scontrol show job --oneliner ARGS``.

    Raises:
        RunError: ``scontrol`` is not on PATH, or the controller did not answer within :data:`SCONTROL_TIMEOUT_S`.
    """
    cmd = [slurm_tool("scontrol"), "show", "job", "--oneliner", *args]
    try:
        return subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=SCONTROL_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise RunError(f"scontrol did not answer within {SCONTROL_TIMEOUT_S:g} s") from None


def job_state(job_id: str) -> JobState | None:
    """The job's state from ``scontrol show job``; None once Slurm has forgotten it (after ``MinJobAge``).

    Raises:
        RunError: ``scontrol`` is not on PATH or does not answer.
    """
    done = _scontrol(job_id)
    if done.returncode or "JobState=" not in done.stdout:
        return None
    if (job := parse_jobs(done.stdout).get(job_id)) is not None:
        return job
    first = parse_job_line(done.stdout.splitlines()[0])  # an array's id shows its tasks' lines: the first answers
    return replace(first, job_id=job_id) if first is not None else None


def job_states(job_ids: Iterable[str]) -> dict[str, JobState]:
    """The states of several jobs in one ``scontrol`` call (every job the controller holds); forgotten ones are absent.

    One id asks for that job alone.

    Raises:
        RunError: ``scontrol`` is not on PATH, does not answer, or fails.
    """
    wanted = set(job_ids)
    if not wanted:
        return {}
    if len(wanted) == 1:
        (job_id,) = wanted
        return {job_id: job} if (job := job_state(job_id)) is not None else {}
    done = _scontrol()
    if done.returncode:
        said = (done.stderr or done.stdout).strip().splitlines()
        raise RunError(f"scontrol show job failed (exit {done.returncode}): {said[0] if said else 'no output'}")
    return {job_id: job for job_id, job in parse_jobs(done.stdout).items() if job_id in wanted}


def array_task_state(line: str) -> JobState | None:
    """One ``scontrol`` line as a :class:`JobState` named as Slurm names the record; None for other lines.

    ``12_1`` for an array's task (``12_1-2`` for tasks still pending together), else the job id.
    """
    job = parse_job_line(line)
    if job is None:
        return None
    fields = dict(token.split("=", 1) for token in line.split() if "=" in token)
    if "ArrayJobId" in fields and "ArrayTaskId" in fields:
        return replace(job, job_id=f"{fields['ArrayJobId']}_{fields['ArrayTaskId']}")
    return job


def job_task_states(job_id: str) -> list[JobState]:
    """Every record ``scontrol show job JOB`` prints; empty once Slurm forgot the job.

    One for a plain job, one per task of a job array (tasks still pending together share one record).

    Raises:
        RunError: ``scontrol`` is not on PATH or does not answer.
    """
    done = _scontrol(job_id)
    if done.returncode:
        return []
    return [job for line in done.stdout.splitlines() if (job := array_task_state(line)) is not None]
