"""Grain worker processes: how they start, and naming one that died (the OOM killer's SIGKILL) in one line.

Each worker first notes its pid in the pool's table (:class:`~xaxengine.data.pool_stats.PoolCounters`). Grain notices
a worker that exited (it polls the process while waiting on its queue) and raises ``RuntimeError: Worker process was
terminated unexpectedly with exit code -9...``, which names neither the process nor the likely cause; the loader then
asks :func:`dead_worker` which of the noted pids is gone and fails the run with one line naming it.
"""

import os
import re
import signal
import sys
import threading
import time

import psutil

from xaxengine.data.pool_stats import PoolCounters

_EXIT_CODE = re.compile(r"exit code (-?\d+)")


class WorkerInit:
    """Runs first in each Grain worker (picklable: Grain sends it to the spawned process)."""

    def __init__(self, counters: PoolCounters) -> None:
        """``counters``: the pool's table, where the worker notes its pid."""
        self.counters = counters

    def __call__(self, worker_index: int, worker_count: int) -> None:
        """Notes the pid, leaves stop signals to the trainer, and exits when the trainer is gone.

        A terminal's Ctrl-C reaches the whole process group; the trainer handles it (checkpoint, then stop), so
        workers ignore it rather than fail mid-batch. A trainer killed with SIGKILL cannot stop its workers, so each
        one watches its parent and exits once it changed (no orphans blocked on a full queue).
        """
        del worker_count
        self.counters.set_pid(worker_index, os.getpid())
        parent = os.getppid()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, signal.SIG_IGN)

        def watch_parent() -> None:
            while os.getppid() == parent:
                time.sleep(0.5)
            os._exit(0)

        threading.Thread(target=watch_parent, name="xax-parent-watch", daemon=True).start()


def _gone(pid: int) -> bool:
    """Whether process ``pid`` exited (reaped, or a zombie waiting to be)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def dead_worker(pids: list[int], error: BaseException) -> str | None:
    """One line naming the first worker of ``pids`` that is gone, with how it ended; None when all are alive.

    Args:
        pids: The workers' process ids.
        error: What the pipeline raised (Grain's message carries the exit code; a negative one is a signal).
    """
    dead = next((pid for pid in pids if _gone(pid)), None)
    if dead is None:
        return None
    match = _EXIT_CODE.search(str(error))
    code = int(match.group(1)) if match else None
    if code is not None and code < 0:
        hint = ", out of memory?" if -code == signal.SIGKILL else ""
        return f"data worker pid {dead} was killed (signal {-code}{hint}); see data.num_workers and data.prefetch"
    if code is not None:
        return f"data worker pid {dead} exited with code {code}"
    return f"data worker pid {dead} died: {type(error).__name__}: {error}".splitlines()[0]


def mark_flags_parsed() -> None:
    """Grain reads absl flags when it starts workers; a program that never parsed them would fail there."""
    from absl import flags

    if not flags.FLAGS.is_parsed():
        flags.FLAGS.mark_as_parsed()


def quiet_resource_tracker() -> None:
    """Keeps multiprocessing's resource tracker from warning about a dead worker's shared memory at exit.

    The tracker (started with the first worker) inherits ``sys.warnoptions``; it still unlinks the segments a killed
    worker left, but the engine has already named the worker in one line, so the tracker's warning is noise.
    """
    quiet = "ignore:resource_tracker:UserWarning"
    if quiet not in sys.warnoptions:
        sys.warnoptions.append(quiet)
