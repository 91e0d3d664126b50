"""Process concerns: signal flags for graceful stop / checkpoint-now, and facts about the process."""

import os
import platform
import signal
import socket
import subprocess
from pathlib import Path
from types import FrameType

EXIT_CODE_FOR_SIGNAL = {signal.SIGINT: 130, signal.SIGTERM: 143}


class SignalFlags:
    """Turns signals into flags the training loop polls between steps.

    The first SIGINT/SIGTERM asks for a graceful stop (finish the step, save, exit 130/143); a second one exits at
    once with the same code, without touching checkpoints already on disk. SIGUSR1 asks for a checkpoint now.
    """

    def __init__(self) -> None:
        """No stop and no checkpoint requested yet."""
        self.stop_signal: int | None = None
        self.checkpoint_requested = False

    def install(self) -> None:
        """Installs the handlers (main thread only)."""
        signal.signal(signal.SIGINT, self._on_stop_signal)
        signal.signal(signal.SIGTERM, self._on_stop_signal)
        signal.signal(signal.SIGUSR1, self._on_checkpoint_signal)

    def _on_stop_signal(self, signum: int, frame: FrameType | None) -> None:
        del frame
        if self.stop_signal is not None:
            os._exit(exit_code_for(signum))
        self.stop_signal = signum

    def _on_checkpoint_signal(self, signum: int, frame: FrameType | None) -> None:
        del signum, frame
        self.checkpoint_requested = True


def process_info() -> dict[str, object]:
    """Host, pid, git state of the working directory, library versions and the Slurm job, for ``run_start``."""
    from importlib.metadata import PackageNotFoundError, version

    versions: dict[str, str] = {"python": platform.python_version()}
    for package in ("jax", "jaxlib", "equinox", "optax", "orbax-checkpoint"):
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            continue
    info: dict[str, object] = {"host": socket.gethostname(), "pid": os.getpid(), "git": git_state(Path.cwd())}
    info["versions"] = versions
    if (job := slurm_job_info()) is not None:
        info["slurm"] = job
    return info


def slurm_job_info(environ: dict[str, str] | None = None) -> dict[str, object] | None:
    """The Slurm job this process runs in (``run_start.slurm``), or None outside Slurm."""
    env = os.environ if environ is None else environ
    if "SLURM_JOB_ID" not in env:
        return None
    return {
        "job_id": env["SLURM_JOB_ID"],
        "nodelist": env.get("SLURM_JOB_NODELIST", ""),
        "ntasks": int(env.get("SLURM_NTASKS", "1")),
        "restart_count": int(env.get("SLURM_RESTART_COUNT", "0")),
    }


def git_state(path: Path) -> dict[str, object] | None:
    """Returns ``{commit, dirty}`` for the git checkout containing ``path``, or None outside git."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=path, capture_output=True, text=True, timeout=5, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=path,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": commit, "dirty": bool(dirty)}


def exit_code_for(signum: int) -> int:
    """The conventional exit code for a run stopped by a signal."""
    return EXIT_CODE_FOR_SIGNAL.get(signal.Signals(signum), 128 + signum)
