"""``xaxengine slurm``: an sbatch script that runs a task with the ``multi_process`` layout under ``srun``.

One engine process per node (``--ntasks-per-node=1``) sees that node's GPUs; ``srun`` starts them all and each
joins the job from Slurm's variables (coordinator = first host of ``SLURM_JOB_NODELIST`` on port
``XAX_COORDINATOR_PORT``, ``num_processes = SLURM_NTASKS``, ``process_id = SLURM_PROCID``; see
:func:`xaxengine.task.launchers.base.cluster_from_env`). The run id is fixed when the script is written, so every
rank writes the same run directory, which must be on storage all nodes share. ``--kill-on-bad-exit`` makes Slurm
stop every rank when one dies. No jax here.
"""

import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from xaxengine.task.launchers.base import DEFAULT_PORT


class SlurmError(Exception):
    """Slurm is not usable here (no ``sbatch``) or refused the job; the message is one line."""


@dataclass
class SlurmJob:
    """Everything the script needs."""

    toml: Path
    runs_dir: Path
    run_id: str
    job_name: str
    nodes: int = 1
    gpus_per_node: int = 0
    partition: str = ""
    time: str = ""
    cpus_per_task: int = 0
    overrides: list[str] = field(default_factory=list)
    engine: str = ""  # the xaxengine executable; default: the one next to this Python
    workdir: Path = field(default_factory=Path.cwd)
    port: int = DEFAULT_PORT


def engine_command() -> str:
    """The ``xaxengine`` console script of this environment (absolute), else ``python -m``-style fallback."""
    sibling = Path(sys.executable).parent / "xaxengine"
    if sibling.exists():
        return str(sibling)
    found = shutil.which("xaxengine")
    return found or f"{sys.executable} -c 'import sys; from xaxengine.cli import main; sys.exit(main())'"


def slurm_script(job: SlurmJob) -> str:
    """Renders the sbatch script of a job.

    Args:
        job: The task file, run location and resources.

    Returns:
        The script text.
    """
    if job.nodes < 1:
        raise SlurmError(f"--nodes must be at least 1, got {job.nodes}")
    lines = [
        "#!/bin/bash",
        f"# Written by `xaxengine slurm`: {job.toml.name} on {job.nodes} node(s), multi_process layout.",
        f"#SBATCH --job-name={job.job_name}",
        f"#SBATCH --nodes={job.nodes}",
        "#SBATCH --ntasks-per-node=1",
    ]
    if job.gpus_per_node:
        lines.append(f"#SBATCH --gpus-per-node={job.gpus_per_node}")
    if job.cpus_per_task:
        lines.append(f"#SBATCH --cpus-per-task={job.cpus_per_task}")
    if job.partition:
        lines.append(f"#SBATCH --partition={job.partition}")
    if job.time:
        lines.append(f"#SBATCH --time={job.time}")
    lines.append(f"#SBATCH --output={job.runs_dir.resolve() / 'slurm'}/%x-%j.out")
    engine = job.engine or engine_command()
    command = [
        "run",
        str(job.toml.resolve()),
        *job.overrides,
        "launch.layout=multi_process",
        "--runs-dir",
        str(job.runs_dir.resolve()),
        "--run-id",
        job.run_id,
    ]
    lines += [
        "set -euo pipefail",
        f"cd {shlex.quote(str(job.workdir.resolve()))}",
        f'export XAX_COORDINATOR_PORT="${{XAX_COORDINATOR_PORT:-{job.port}}}"',
        "export PYTHONUNBUFFERED=1",
        f"srun --kill-on-bad-exit=1 {engine} {shlex.join(command)}",
        "",
    ]
    return "\n".join(lines)


def write_script(job: SlurmJob, path: Path | None = None) -> Path:
    """Writes the script (default ``RUNS_DIR/slurm/<run_id>.sbatch``) and its output folder; returns its path."""
    folder = job.runs_dir.resolve() / "slurm"
    folder.mkdir(parents=True, exist_ok=True)
    path = path or folder / f"{job.run_id}.sbatch"
    path.write_text(slurm_script(job))
    path.chmod(0o755)
    return path


def submit(path: Path) -> str:
    """Submits a script with ``sbatch``; returns sbatch's answer (``Submitted batch job 123``).

    Raises:
        SlurmError: ``sbatch`` is missing or refused the script.
    """
    sbatch = shutil.which("sbatch")
    if sbatch is None:
        raise SlurmError(f"sbatch not found on PATH: submit {path} from a Slurm login node")
    done = subprocess.run([sbatch, str(path)], capture_output=True, text=True, check=False)
    if done.returncode:
        raise SlurmError(f"sbatch failed ({done.returncode}): {(done.stderr or done.stdout).strip().splitlines()[-1:]}")
    return done.stdout.strip()
