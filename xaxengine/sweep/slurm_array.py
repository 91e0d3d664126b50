"""``xaxengine slurm --sweep SWEEP.toml --workers W``: a sweep whose drivers are the tasks of a Slurm job array.

The submitting host creates the sweep (its folder under ``RUNS_DIR/sweeps/`` and its Optuna study) and writes an
sbatch script with ``--array=0-(W-1)``. Each array task runs one sweep driver, ``xaxengine sweep --join SWEEP
--storage URL``, under ``srun`` (so ``scancel --signal`` reaches it); the drivers share the study and the sweep
folder on the shared filesystem, ask for trials under the folder's ``ask.lock`` and stop when the budget is spent,
so every trial runs once whichever worker asks first. The default storage is a journal file in the sweep folder
(Optuna's choice for several processes on a shared filesystem; SQLite over NFS is not safe); ``--storage`` takes an
RDB URL instead. The job id lands in ``SWEEP_DIR/slurm_job``; ``xaxengine sweep stop`` signals the array. No jax.
"""

import argparse
import shlex
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from xaxengine.slurm_jobs import JobState, job_task_states
from xaxengine.task.launchers.slurm import SlurmError, engine_command, sbatch_options, submit


@dataclass
class SweepArray:
    """Everything the array's script needs."""

    sweep_id: str
    sweep_dir: Path
    storage: str
    runs_dir: Path
    workers: int
    partition: str = ""
    time: str = ""
    cpus_per_task: int = 0
    gpus_per_worker: int = 0
    signal: str = ""
    engine: str = ""
    workdir: Path = field(default_factory=Path.cwd)


def array_script(job: SweepArray) -> str:
    """Renders the sbatch script of a sweep's job array.

    Raises:
        SlurmError: Fewer than one worker.
    """
    if job.workers < 1:
        raise SlurmError(f"--workers must be at least 1, got {job.workers}")
    lines = [
        "#!/bin/bash",
        f"# Written by `xaxengine slurm --sweep`: {job.workers} driver(s) of sweep {job.sweep_id}, one per array task.",
        f"#SBATCH --job-name=xax-sweep-{job.sweep_id.split('-')[0]}",
        f"#SBATCH --array=0-{job.workers - 1}",
        "#SBATCH --ntasks=1",
    ]
    lines += sbatch_options(
        {
            "cpus-per-task": job.cpus_per_task,
            "gpus": job.gpus_per_worker,
            "partition": job.partition,
            "time": job.time,
            "signal": job.signal,
        }
    )
    lines += ["#SBATCH --no-requeue", "#SBATCH --open-mode=append"]
    lines.append(f"#SBATCH --output={job.runs_dir.resolve() / 'slurm'}/%x-%A_%a.out")
    engine = job.engine or engine_command()
    join = ["sweep", "--join", job.sweep_id, "--storage", job.storage, "--runs-dir", str(job.runs_dir.resolve())]
    lines += [
        "set -euo pipefail",
        f"cd {shlex.quote(str(job.workdir.resolve()))}",
        "export PYTHONUNBUFFERED=1",
        'echo "xaxengine slurm: sweep worker ${SLURM_ARRAY_TASK_ID} of job ${SLURM_ARRAY_JOB_ID}" >&2',
        f"srun --ntasks=1 {engine} {shlex.join(join)}",
        "",
    ]
    return "\n".join(lines)


def submit_sweep_command(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``xaxengine slurm --sweep``: creates the sweep, writes the array's script, and with ``--submit`` submits it.

    Prints the script path, then ``Submitted batch job ID`` and ``sweep dir: PATH`` (to ``err`` with ``--wait``).

    Returns:
        0, or with ``--wait`` 0 when every worker completed and some trial finished, else 1.

    Raises:
        SlurmError: A bad request, no ``sbatch``, or a job ``sbatch`` refused.
        ConfigError: A bad sweep file.
    """
    from xaxengine.sweep.cli import create_sweep
    from xaxengine.task.launchers.slurm_control import record_job

    if args.wait and not args.submit:
        raise SlurmError("--wait follows a submitted job: add --submit")
    if args.workers < 1:
        raise SlurmError(f"--workers must be at least 1, got {args.workers}")
    if args.nodes != 1 or args.tasks_per_node != 1:
        raise SlurmError("with --sweep each worker is one task on one node: --nodes and --tasks-per-node do not apply")
    _, meta, sweep_dir = create_sweep(Path(args.sweep), args.runs_dir, args.storage, joinable=True)
    job = SweepArray(
        sweep_id=meta.sweep_id,
        sweep_dir=sweep_dir,
        storage=meta.storage,
        runs_dir=Path(meta.runs_dir),
        workers=args.workers,
        partition=args.partition,
        time=args.time,
        cpus_per_task=args.cpus_per_task,
        gpus_per_worker=args.gpus_per_node,
        signal=args.signal,
    )
    path = Path(args.output) if args.output else sweep_dir / "slurm.sbatch"
    path.parent.mkdir(parents=True, exist_ok=True)
    (job.runs_dir / "slurm").mkdir(parents=True, exist_ok=True)
    path.write_text(array_script(job))
    path.chmod(0o755)
    notes = err if args.wait else out
    notes.write(f"{path}\n")
    if not args.submit:
        notes.write(f"sweep dir: {sweep_dir} (submit the script with sbatch)\n")
        return 0
    job_id = submit(path)
    record_job(sweep_dir, job_id)
    notes.write(f"Submitted batch job {job_id}\nsweep dir: {sweep_dir}\n")
    notes.flush()
    return follow_array(job_id, sweep_dir, err) if args.wait else 0


def follow_array(job_id: str, sweep_dir: Path, err: TextIO, poll_s: float = 1.0) -> int:
    """Waits until every task of the array ended; each change of the tasks' states or the sweep's progress is a line.

    Returns:
        0 when every task COMPLETED and the sweep has a finished trial, else 1.
    """
    from xaxengine.sweep.cli import sweep_summary

    said, progress, ended_polls = "", "", 0
    last: list[JobState] = []
    while True:
        states = job_task_states(job_id)
        line = "; ".join(s.describe() for s in states)
        if line and line != said:
            said = line
            err.write(f"xaxengine slurm: {line}\n")
        summary = sweep_summary(sweep_dir)
        now = f"sweep {summary['sweep_id']}: {summary['done']}/{summary['trials']} trials done"
        if now != progress:
            progress = now
            err.write(f"xaxengine slurm: {now}\n")
        err.flush()
        if states:
            last = states
        ended_polls = ended_polls + 1 if all(s.ended for s in states) else 0
        if ended_polls >= 2:  # an ended state must hold for two polls, as for a single job
            break
        time.sleep(poll_s)
    completed = bool(last) and all(s.state == "COMPLETED" for s in last)
    return 0 if completed and _finished_trials(sweep_dir) else 1


def _finished_trials(sweep_dir: Path) -> int:
    from xaxengine.sweep.cli import sweep_summary

    done = sweep_summary(sweep_dir)["done"]
    return done if isinstance(done, int) else 0
