"""Engine child processes: how a launcher starts them, supervises them, and how they start.

A launcher freezes the run (run id and absolute runs dir, so every child writes the same run directory), writes the
resolved config to a temporary TOML and starts ``python -m xaxengine.task.launchers.child_main CONFIG.toml [...]`` with
the environment of its layout. Children get their own session, so a Ctrl-C on the terminal reaches only the
launcher, which forwards SIGINT/SIGTERM/SIGUSR1 once to each child; children die with the launcher
(``PR_SET_PDEATHSIG``, set by the child itself). A child's exit code is the launcher's.

No jax here: the launcher process must never initialize a JAX backend.
"""

import ctypes
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import IO, Any

import tomli_w

from xaxengine.config import config_to_dict
from xaxengine.event_file import EventFile
from xaxengine.exit_codes import EXIT_INTERRUPTED, EXIT_SIGTERM
from xaxengine.launch_config import RunOptions
from xaxengine.protocol import EventWriter, Kind, State, last_seq_in_file
from xaxengine.runs import EVENTS_FILE, new_run_id, resolve_runs_dir, task_dir_name
from xaxengine.task.launchers.runnable import Runnable

FORWARDED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGUSR1)
KILL_GRACE_S = 3.0
INTERRUPT_GRACE_S = 60.0
INTERRUPTED = EXIT_INTERRUPTED
PARENT_ENV = "XAX_LAUNCHER_PID"


def freeze_run(task_cls: Runnable, config: Any, options: RunOptions) -> Path:
    """Fixes ``artifacts.run_id`` and an absolute ``artifacts.runs_dir`` in ``config``; returns the run directory."""
    if options.resume_dir is not None:
        return options.resume_dir.resolve()
    artifacts = config.artifacts
    artifacts.runs_dir = str(resolve_runs_dir(artifacts.runs_dir).resolve())
    artifacts.run_id = artifacts.run_id or new_run_id()
    return Path(artifacts.runs_dir) / task_dir_name(task_cls.__name__) / artifacts.run_id


def _import_root(task_cls: Runnable) -> str | None:
    """The folder to put on ``sys.path`` so the task's module imports in a child."""
    module = sys.modules.get(task_cls.__module__)
    path = getattr(module, "__file__", None)
    if path is None:
        return None
    root = Path(path).resolve().parent
    for _ in range(task_cls.__module__.count(".")):
        root = root.parent
    return str(root)


@dataclass
class ChildPlan:
    """What every child of one launch runs: the command line and the base environment."""

    argv: list[str]
    env: dict[str, str]
    folder: Path


def plan_children(task_cls: Runnable, config: Any, options: RunOptions) -> ChildPlan:
    """Writes the resolved config to a temporary TOML and returns the child command line and environment."""
    folder = Path(tempfile.mkdtemp(prefix="xax-launch-"))
    toml = folder / "config.toml"
    with open(toml, "wb") as f:
        tomli_w.dump({"task": f"{task_cls.__module__}:{task_cls.__qualname__}", **config_to_dict(config)}, f)
    argv = [sys.executable, "-m", "xaxengine.task.launchers.child_main", str(toml)]
    if options.events_to_stdout:
        argv.append("--events")
    if options.resume_dir is not None:
        argv += ["--resume-dir", str(options.resume_dir.resolve())]
    if options.init_from is not None:
        argv += ["--init-from", str(options.init_from.resolve())]
    env = dict(os.environ)
    root = _import_root(task_cls)
    if root:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    return ChildPlan(argv, env, folder)


def die_with_parent() -> None:
    """Asks the kernel for SIGTERM when the launcher dies (Linux); exits if it is already gone."""
    parent = os.environ.get(PARENT_ENV)
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    if parent and os.getppid() != int(parent):
        sys.exit(EXIT_SIGTERM)


def start_child(argv: Sequence[str], env: Mapping[str, str], stdout: IO[Any] | None = None) -> subprocess.Popen[bytes]:
    """Starts one child in its own session (stdout inherited unless given), dying with this process."""
    return subprocess.Popen(
        list(argv), env={**env, PARENT_ENV: str(os.getpid())}, stdout=stdout, start_new_session=True
    )


def describe_exit(code: int) -> str:
    """``exit code 1`` or ``killed by SIGKILL``."""
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def supervise(
    procs: list[subprocess.Popen[bytes]], on_failure: Callable[[int, int], None], poll_s: float = 0.05
) -> int:
    """Waits for the children, forwarding signals; if one fails, stops the rest and reports it.

    Args:
        procs: The children, by rank.
        on_failure: Called with ``(rank, exit code)`` of the child that failed first (a child killed by a signal
            before one that exited with an error, else the earliest exit), after the others stopped.
        poll_s: Seconds between polls.

    Returns:
        Rank 0's exit code when every child ended well or was interrupted (130/143, however the signal reached
        it); a single child's own error code; else 1.
    """

    def forward(signum: int, frame: FrameType | None) -> None:
        del frame
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signum)

    previous = {s: signal.signal(s, forward) for s in FORWARDED_SIGNALS}
    exited_at = _exit_clocks(procs)
    interrupted_at: float | None = None
    try:
        while True:
            codes = [p.poll() for p in procs]
            bad = [(rank, c) for rank, c in enumerate(codes) if c not in (None, 0, *INTERRUPTED)]
            if bad:
                # A killed rank is the likely cause; else the first to exit (a rank blocked in a collective fails
                # only after its peer left, often within one poll of it).
                rank, code = min(bad, key=lambda rc: (rc[1] >= 0, exited_at.get(rc[0], float("inf")), rc[0]))
                stop_all(procs)
                on_failure(rank, code)
                return code if len(procs) == 1 and code > 0 else 1
            if all(c is not None for c in codes):
                return int(codes[0] or 0)
            stopped = [c for c in codes if c in INTERRUPTED]  # interrupted ranks saved and exited cleanly
            interrupted_at = interrupted_at or (time.monotonic() if stopped else None)
            if interrupted_at is not None and time.monotonic() - interrupted_at > INTERRUPT_GRACE_S:
                stop_all(procs)  # the others never agreed to stop (a second, hard signal): do not wait forever
                return stopped[0]
            time.sleep(poll_s)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _exit_clocks(procs: Sequence[subprocess.Popen[bytes]]) -> dict[int, float]:
    """Starts a waiter thread per child that records when it exited (monotonic seconds), by rank."""
    exited_at: dict[int, float] = {}

    def wait(rank: int, proc: subprocess.Popen[bytes]) -> None:
        proc.wait()
        exited_at[rank] = time.monotonic()

    for rank, proc in enumerate(procs):
        threading.Thread(target=wait, args=(rank, proc), name=f"wait-rank-{rank}", daemon=True).start()
    return exited_at


def stop_all(procs: Sequence[subprocess.Popen[bytes]]) -> None:
    """SIGTERM to every live child, SIGKILL to those still alive after a short grace period."""
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    deadline = time.monotonic() + KILL_GRACE_S
    for proc in procs:
        try:
            proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def mark_failed(run_dir: Path, reason: str, events_to_stdout: bool) -> None:
    """Appends a ``status: failed`` event (continuing ``seq``) for a run whose engine could not say it itself."""
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / EVENTS_FILE
    step = _last_step(path)
    with EventFile(path) as f:
        sinks: list[IO[bytes]] = [sys.stdout.buffer] if events_to_stdout else []
        EventWriter(sinks, next_seq=last_seq_in_file(path) + 1, files=[f]).emit(
            Kind.STATUS, state=State.FAILED, reason=reason, step=step
        )
    sys.stderr.write(f"xaxengine: error: {reason}\n")


def _last_step(path: Path) -> int:
    from xaxengine.protocol import read_events

    step = 0
    if path.exists():
        for event in read_events(path):
            if event.get("kind") in (Kind.STATUS, Kind.SCALARS) and isinstance(event.get("step"), int):
                step = max(step, int(event["step"]))
    return step
