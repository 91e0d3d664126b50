"""``xaxengine slurm``: an sbatch script that runs a task with the ``multi_process`` layout under ``srun``.

``srun`` starts ``--tasks-per-node`` engine processes on each of ``--nodes`` nodes; each joins ``jax.distributed``
from Slurm's variables (coordinator = first host of ``SLURM_JOB_NODELIST``, port derived from ``SLURM_JOB_ID``,
``num_processes = SLURM_NTASKS``, ``process_id = SLURM_PROCID``; see
:func:`xaxengine.task.launchers.base.cluster_from_env`). The run id is fixed when the script is written, so every
rank writes the same run directory, which must be on storage all nodes share; only rank 0 writes events. The script
records the job id in ``RUN_DIR/slurm_job`` and, when the run directory already holds a ``config.toml`` (a requeued
job, or one resubmitted by hand), resumes it from its newest checkpoint instead of starting over.
``--kill-on-bad-exit`` makes Slurm stop every rank when one dies. No jax here.
"""

import argparse
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from xaxengine.runs import CONFIG_FILE, SLURM_JOB_FILE

# The flags of `xaxengine slurm` that are SlurmJob fields of the same name.
RESOURCE_FLAGS = ("nodes", "tasks_per_node", "gpus_per_node", "partition", "time", "cpus_per_task", "signal", "requeue")


class SlurmError(Exception):
    """Slurm is not usable here (no ``sbatch``) or refused the job; the message is one line."""


@dataclass
class SlurmJob:
    """Everything the script needs."""

    toml: Path
    runs_dir: Path
    run_id: str
    job_name: str
    task_dir: str = ""  # the task's folder under the runs root (``task_dir_name`` of its class)
    nodes: int = 1
    tasks_per_node: int = 1
    gpus_per_node: int = 0
    partition: str = ""
    time: str = ""
    cpus_per_task: int = 0
    signal: str = ""  # sbatch --signal, e.g. TERM@60: the engines checkpoint and stop before the time limit
    requeue: bool = False
    overrides: list[str] = field(default_factory=list)
    engine: str = ""  # the xaxengine executable; default: the one next to this Python
    workdir: Path = field(default_factory=Path.cwd)

    @property
    def run_dir(self) -> Path:
        """The run directory every rank writes (absolute)."""
        return self.runs_dir.resolve() / self.task_dir / self.run_id


def add_slurm_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of ``xaxengine slurm``."""
    add = parser.add_argument
    add("toml", nargs="?", help="Task file (or give --sweep).")
    add("overrides", nargs="*", help="Dotted overrides passed to every rank.")
    add("--sweep", metavar="SWEEP_TOML", help="Run a sweep instead: a job array of --workers sweep drivers.")
    add("--workers", type=int, default=2, help="With --sweep: sweep drivers (array tasks) sharing one study.")
    add("--storage", metavar="URL", help="With --sweep: Optuna storage (default: a journal file in the sweep dir).")
    add("--nodes", type=int, default=1, help="Nodes.")
    add("--tasks-per-node", type=int, default=1, help="Engine processes per node (each joins jax.distributed).")
    add("--gpus-per-node", type=int, default=0, help="GPUs per node (0: CPU nodes), split evenly over its tasks.")
    add("--partition", default="", help="Slurm partition.")
    add("--time", default="", help="Time limit, e.g. 04:00:00.")
    add("--cpus-per-task", type=int, default=0, help="CPUs per engine process (0: Slurm's default).")
    add("--signal", default="", help="sbatch --signal, e.g. TERM@60: checkpoint and stop 60 s before the time limit.")
    add("--requeue", action="store_true", help="Let Slurm requeue the job; it then resumes from its checkpoint.")
    add("--runs-dir", help="Runs root on storage every node shares (default: $XAX_RUNS_DIR or ./runs).")
    add("--run-id", help="Run id (default: a new timestamped id).")
    add("--output", "-o", help="Script path (default: RUNS_DIR/slurm/RUN_ID.sbatch).")
    add("--submit", action="store_true", help="Submit the script with sbatch; prints the job id and run dir.")
    add("--wait", action="store_true", help="With --submit: follow the run's events and exit with the job's result.")


def engine_command() -> str:
    """The ``xaxengine`` console script of this environment (absolute), else ``python -m``-style fallback."""
    sibling = Path(sys.executable).parent / "xaxengine"
    if sibling.exists():
        return str(sibling)
    found = shutil.which("xaxengine")
    return found or f"{sys.executable} -c 'import sys; from xaxengine.cli import main; sys.exit(main())'"


def _check(job: SlurmJob) -> None:
    if job.nodes < 1 or job.tasks_per_node < 1:
        raise SlurmError(f"--nodes and --tasks-per-node must be at least 1, got {job.nodes} and {job.tasks_per_node}")
    if job.gpus_per_node % job.tasks_per_node:
        raise SlurmError(f"--gpus-per-node {job.gpus_per_node} does not split over {job.tasks_per_node} tasks")
    if job.signal and not re.fullmatch(r"(B:)?(R:)?[A-Z0-9]+(@\d+)?", job.signal):
        raise SlurmError(f"--signal {job.signal!r} is not SIG[@SECONDS], e.g. TERM@60")


def slurm_script(job: SlurmJob) -> str:
    """Renders the sbatch script of a job.

    Args:
        job: The task file, run location and resources.

    Returns:
        The script text.

    Raises:
        SlurmError: Resources that cannot work (no nodes, GPUs that do not split over the tasks, a bad signal).
    """
    _check(job)
    tasks = job.nodes * job.tasks_per_node
    lines = [
        "#!/bin/bash",
        f"# Written by `xaxengine slurm`: {job.toml.name}, {tasks} engine process(es) on {job.nodes} node(s).",
        f"#SBATCH --job-name={job.job_name}",
        f"#SBATCH --nodes={job.nodes}",
        f"#SBATCH --ntasks-per-node={job.tasks_per_node}",
    ]
    lines += sbatch_options(
        {
            "gpus-per-node": job.gpus_per_node,
            "cpus-per-task": job.cpus_per_task,
            "partition": job.partition,
            "time": job.time,
            "signal": job.signal,
        }
    )
    lines.append("#SBATCH --requeue" if job.requeue else "#SBATCH --no-requeue")
    lines += ["#SBATCH --open-mode=append", f"#SBATCH --output={job.runs_dir.resolve() / 'slurm'}/%x-%j.out"]
    engine = job.engine or engine_command()
    start = ["run", str(job.toml.resolve()), *job.overrides, "launch.layout=multi_process"]
    start += ["--runs-dir", str(job.runs_dir.resolve()), "--run-id", job.run_id]
    srun = ["srun", "--kill-on-bad-exit=1"]
    if job.gpus_per_node and job.tasks_per_node > 1:
        srun.append(f"--gpus-per-task={job.gpus_per_node // job.tasks_per_node}")
    run_dir = shlex.quote(str(job.run_dir))
    lines += [
        "set -euo pipefail",
        f"cd {shlex.quote(str(job.workdir.resolve()))}",
        "export PYTHONUNBUFFERED=1",
        f"RUN_DIR={run_dir}",
        'mkdir -p "$RUN_DIR"',
        f'echo "$SLURM_JOB_ID" > "$RUN_DIR/{SLURM_JOB_FILE}"',
        f'if [ -f "$RUN_DIR/{CONFIG_FILE}" ]; then  # requeued or resubmitted: continue from the newest checkpoint',
        '  echo "xaxengine slurm: resuming $RUN_DIR (restart ${SLURM_RESTART_COUNT:-0})" >&2',
        '  set -- resume "$RUN_DIR"',
        "else",
        f"  set -- {shlex.join(start)}",
        "fi",
        f'{shlex.join(srun)} {engine} "$@"',
        "",
    ]
    return "\n".join(lines)


def sbatch_options(options: dict[str, object]) -> list[str]:
    """``#SBATCH --NAME=VALUE`` for each option that is set (not 0, not empty), in the order given."""
    return [f"#SBATCH --{name}={value}" for name, value in options.items() if value]


def write_script(job: SlurmJob, path: Path | None = None) -> Path:
    """Writes the script (default ``RUNS_DIR/slurm/<run_id>.sbatch``) and its output folder; returns its path."""
    folder = job.runs_dir.resolve() / "slurm"
    folder.mkdir(parents=True, exist_ok=True)
    text = slurm_script(job)
    path = path or folder / f"{job.run_id}.sbatch"
    path.write_text(text)
    path.chmod(0o755)
    return path


def submit(path: Path) -> str:
    """Submits a script with ``sbatch --parsable``; returns the job id.

    Raises:
        SlurmError: ``sbatch`` is missing or refused the script (its reason in one line).
    """
    sbatch = shutil.which("sbatch")
    if sbatch is None:
        raise SlurmError(f"sbatch not found on PATH: submit {path} from a Slurm login node")
    done = subprocess.run([sbatch, "--parsable", str(path)], capture_output=True, text=True, check=False)
    if done.returncode:
        said = [line for line in (done.stderr or done.stdout).strip().splitlines() if line.strip()]
        reason = re.sub(r"^sbatch: error: (Batch job submission failed: )?", "", said[-1] if said else "no output")
        raise SlurmError(f"sbatch refused {path}: {reason}")
    return done.stdout.strip().split(";")[0]


def submit_command(job: SlurmJob, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``xaxengine slurm``: writes the script, and with ``--submit`` submits it, records the job and may follow it.

    Prints the script path, then ``Submitted batch job ID`` and ``run dir: PATH`` (to ``err`` with ``--wait``, whose
    ``out`` carries the run's event lines).

    Returns:
        0, or with ``--wait`` the job's result (see :func:`xaxengine.task.launchers.slurm_control.follow`).

    Raises:
        SlurmError: A bad resource request, no ``sbatch``, or a job ``sbatch`` refused.
    """
    from xaxengine.task.launchers.slurm_control import follow, record_job

    if args.wait and not args.submit:
        raise SlurmError("--wait follows a submitted job: add --submit")
    path = write_script(job, Path(args.output) if args.output else None)
    notes = err if args.wait else out
    notes.write(f"{path}\n")
    if not args.submit:
        return 0
    job_id = submit(path)
    record_job(job.run_dir, job_id)
    notes.write(f"Submitted batch job {job_id}\nrun dir: {job.run_dir}\n")
    notes.flush()
    return follow(job_id, job.run_dir, out, err) if args.wait else 0
