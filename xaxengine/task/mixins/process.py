"""Process concerns: signal flags for graceful stop / checkpoint-now, and facts about the process."""

import os
import platform
import signal
import socket
import subprocess
import threading
from pathlib import Path
from types import FrameType

from xaxengine.exit_codes import exit_code_for_signal


class SignalFlags:
    """Turns signals into flags the training loop polls between steps.

    The first SIGINT/SIGTERM asks for a graceful stop (finish the step, save, exit 130/143); a second one exits at
    once with the same code, without touching checkpoints already on disk. SIGUSR1 asks for a checkpoint now.

    Signals are counted by a watcher thread reading the interpreter's wakeup fd (one byte per delivered signal),
    not by Python-level handlers: those run only when the main thread returns to the interpreter, and two signals
    that arrive while it waits inside a long device call are merged into one call, so a double Ctrl-C would read
    as a single graceful stop.
    """

    STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        """No stop and no checkpoint requested yet."""
        self.stop_signal: int | None = None
        self.checkpoint_requested = False
        self.stop_deliveries = 0  # stop signals the kernel delivered (two sent close together may arrive as one)

    def idle(self) -> bool:
        """Whether neither a stop nor a checkpoint is requested."""
        return self.stop_signal is None and not self.checkpoint_requested

    def install(self) -> None:
        """Installs the handlers and starts the watcher (main thread only)."""
        read_fd, write_fd = os.pipe()
        os.set_blocking(write_fd, False)
        for signum in (*self.STOP_SIGNALS, signal.SIGUSR1):
            signal.signal(signum, _counted_by_the_watcher)
        signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
        threading.Thread(target=self._watch, args=(read_fd,), name="xax-signals", daemon=True).start()

    def _watch(self, read_fd: int) -> None:
        while data := os.read(read_fd, 64):
            for signum in data:
                self.on_signal(signum)

    def on_signal(self, signum: int) -> None:
        """Counts one delivered signal: a stop request, an immediate exit (the second stop), or a checkpoint."""
        if signum == signal.SIGUSR1:
            self.checkpoint_requested = True
        elif signum in self.STOP_SIGNALS:
            self.stop_deliveries += 1
            if self.stop_signal is not None:
                os._exit(exit_code_for_signal(signum))
            self.stop_signal = signum


def _counted_by_the_watcher(signum: int, frame: FrameType | None) -> None:
    """The Python-level handler: it only replaces the default action (terminate); the watcher counts the signal."""
    del signum, frame


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
