"""What Slurm says about a job: ``scontrol show job`` parsed into a :class:`JobState`. No jax, no textual.

Shared by the engine's Slurm commands (``xaxengine slurm --wait``, ``stop``/``checkpoint`` of a Slurm run) and by
anything that lists runs (``xaxengine ls``, the TUI's picker), so one parser answers for all of them.
"""

import shutil
import subprocess
from dataclasses import dataclass

from xaxengine.runs import RunError

# Job states after which the job never runs again (a requeued job goes back to PENDING instead).
ENDED = frozenset(
    {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "PREEMPTED", "OUT_OF_MEMORY", "BOOT_FAIL", "DEADLINE"}
)
ACTIVE = frozenset({"RUNNING", "COMPLETING", "SUSPENDED", "CONFIGURING", "STOPPED", "SIGNALING"})


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


def slurm_tool(name: str) -> str:
    """The path of a Slurm command.

    Raises:
        RunError: It is not on PATH.
    """
    found = shutil.which(name)
    if found is None:
        raise RunError(f"{name} not found on PATH: control Slurm runs from a node of the cluster")
    return found


def job_state(job_id: str) -> JobState | None:
    """The job's state from ``scontrol show job``; None once Slurm has forgotten it (after ``MinJobAge``).

    Raises:
        RunError: ``scontrol`` is not on PATH.
    """
    states = job_task_states(job_id)
    return states[0] if states else None


def job_task_states(job_id: str) -> list[JobState]:
    """Every record ``scontrol show job`` prints for a job; empty once Slurm forgot it.

    One record for a plain job, one per task of a job array (``12_0``, ``12_1``; tasks still pending together share
    one record, ``12_[1-2]``).

    Raises:
        RunError: ``scontrol`` is not on PATH.
    """
    done = subprocess.run(
        [slurm_tool("scontrol"), "show", "job", "--oneliner", job_id], capture_output=True, text=True, check=False
    )
    if done.returncode:
        return []
    return [parse_job_line(line, job_id) for line in done.stdout.splitlines() if "JobState=" in line]


def parse_job_line(line: str, job_id: str) -> JobState:
    """One ``scontrol show job --oneliner`` line as a :class:`JobState` (an array task's id is ``JOB_TASK``)."""
    fields = dict(token.split("=", 1) for token in line.split() if "=" in token)
    code, _, sig = fields.get("ExitCode", "0:0").partition(":")
    if "ArrayTaskId" in fields:
        job_id = f"{fields.get('ArrayJobId', job_id)}_{fields['ArrayTaskId']}"
    return JobState(
        job_id=job_id,
        state=fields.get("JobState", "UNKNOWN"),
        reason=fields.get("Reason", ""),
        exit_code=int(code or 0),
        exit_signal=int(sig or 0),
        nodes=fields.get("NodeList", "") if fields.get("NodeList") != "(null)" else "",
        restarts=int(fields.get("Restarts", "0") or 0),
    )
