"""Process concerns: signal flags for graceful stop / checkpoint-now, and facts about the process."""

import os
import platform
import signal
import socket
import subprocess
from pathlib import Path
from types import FrameType

from xaxengine.exit_codes import exit_code_for_signal


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
            os._exit(exit_code_for_signal(signum))
        self.stop_signal = signum

    def _on_checkpoint_signal(self, signum: int, frame: FrameType | None) -> None:
        del signum, frame
        self.checkpoint_requested = True


def process_info() -> dict[str, object]:
    """Host, pid, git state of the working directory and library versions, for ``run_start``."""
    from importlib.metadata import PackageNotFoundError, version

    versions: dict[str, str] = {"python": platform.python_version()}
    for package in ("jax", "jaxlib", "equinox", "optax", "orbax-checkpoint"):
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            continue
    return {"host": socket.gethostname(), "pid": os.getpid(), "git": git_state(Path.cwd()), "versions": versions}


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
