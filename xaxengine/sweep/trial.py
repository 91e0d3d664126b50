"""One trial's engine: launched as ``xaxengine run`` (or ``resume``) in its own run directory, read through its events.

The driver never waits on a trial: it polls the child (or, for an engine adopted from a driver that died, the run's
lock) and reads the new lines of ``events.jsonl`` with the protocol's tolerant :class:`LineReader`.
"""

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from xaxengine.protocol import TERMINAL_STATES, Kind, LineReader, State
from xaxengine.runs import CONFIG_FILE, EVENTS_FILE, STOP_REASON_FILE, live_pid
from xaxengine.sweep.placement import Slot
from xaxengine.sweep.spec import ObjectiveTracker

EXIT_CODES_OF_STATE = {State.FINISHED: 0, State.FAILED: 1, State.INTERRUPTED: 143}


def engine_command() -> list[str]:
    """The ``xaxengine`` console script beside this interpreter, or the CLI module run by it."""
    script = Path(sys.executable).parent / "xaxengine"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from xaxengine.cli import main; sys.exit(main())"]


@dataclass
class TrialRun:
    """A trial's engine as the driver sees it.

    Attributes:
        number: The Optuna trial number.
        trial: The Optuna trial (``optuna.Trial``) used to report and ask whether to prune.
        run_dir: ``RUNS_DIR/<task>/<sweep_id>-tNNN``.
        params: The sampled values, field -> value.
        slot: Where it runs.
        tracker: The objective values read so far.
        proc: The child process; None for an engine adopted from a dead driver (it is watched through its lock).
        log: The file holding the engine's stdout and stderr.
        state: The last ``status`` state read, or ``launching``.
        reason: The reason of that status.
        step: The last step seen in any event.
        pruning: The driver sent SIGTERM because the pruner said so (or someone asked to prune it by hand).
        prune_reason: Why, when it was asked by hand ('' for the pruner's own).
        stopping: The driver sent SIGTERM because the sweep is stopping.
        started_t: Wall time of the launch.
        reported: Steps already reported to Optuna (a resumed run logs some steps again).
    """

    number: int
    trial: Any
    run_dir: Path
    params: dict[str, Any]
    slot: Slot
    tracker: ObjectiveTracker
    proc: subprocess.Popen[bytes] | None
    log: Path
    state: str = "launching"
    reason: str = ""
    step: int = 0
    pruning: bool = False
    prune_reason: str = ""
    stopping: bool = False
    started_t: float = field(default_factory=time.time)
    exit_fd: int | None = None  # a pidfd of the child: readable once it exits (Linux); None elsewhere or adopted
    reported: set[int] = field(default_factory=set)
    _reader: LineReader = field(default_factory=LineReader)
    _offset: int = 0

    def read_events(self, phase: str, name: str) -> list[tuple[int, float]]:
        """Reads the new events; returns the new ``(step, objective)`` pairs (steps not reported yet)."""
        path = self.run_dir / EVENTS_FILE
        try:
            with open(path, "rb") as f:
                f.seek(self._offset)
                chunk = f.read()
        except FileNotFoundError:
            return []
        self._offset += len(chunk)
        new: list[tuple[int, float]] = []
        for event in self._reader.feed(chunk):
            kind = event["kind"]
            if kind == Kind.STATUS:
                self.state, self.reason = str(event.get("state", self.state)), str(event.get("reason") or "")
                self.step = int(event.get("step") or self.step)
            elif kind == Kind.SCALARS:
                self.step = max(self.step, int(event.get("step", 0)))
                value = (event.get("values") or {}).get(name)
                if event.get("phase") == phase and isinstance(value, int | float):
                    step = int(event["step"])
                    self.tracker.add(step, float(value))
                    if step not in self.reported:
                        new.append((step, float(value)))
        return new

    def exit_code(self) -> int | None:
        """None while the engine lives, then its exit code.

        For an adopted engine (no child to wait on), the code its last status implies, -9 without a final status.
        """
        if self.proc is not None:
            return self.proc.poll()
        if live_pid(self.run_dir) is not None:
            return None
        return EXIT_CODES_OF_STATE.get(State(self.state), -9) if self.state in TERMINAL_STATES else -9

    def close(self) -> None:
        """Closes the pidfd once the trial is settled."""
        if self.exit_fd is not None:
            os.close(self.exit_fd)
            self.exit_fd = None

    def send(self, signum: int = signal.SIGTERM, reason: str | None = None) -> None:
        """Signals the engine (SIGTERM: finish the step, checkpoint, end ``interrupted``).

        ``reason`` goes to ``RUN_DIR/stop_reason`` first; the engine's ``interrupted`` status then says it.
        """
        if reason is not None:
            with contextlib.suppress(OSError):
                (self.run_dir / STOP_REASON_FILE).write_text(reason)
        pid = self.proc.pid if self.proc is not None else live_pid(self.run_dir)
        if pid is None:
            return
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            return

    def last_log_line(self) -> str:
        """The engine's last stderr/stdout line (a bad config's one-line error), without the program prefix."""
        try:
            lines = [line.strip() for line in self.log.read_text(errors="replace").splitlines() if line.strip()]
        except OSError:
            return ""
        return lines[-1].removeprefix("xaxengine: error: ") if lines else ""


def spawn(
    run: TrialRun, *, task_path: Path | None, overrides: list[str], runs_dir: Path, run_id: str, tags: dict[str, str]
) -> subprocess.Popen[bytes]:
    """Starts a trial's engine.

    ``xaxengine run TASK OVERRIDES`` with the trial's run id and tags; or, with ``task_path`` None or a run dir that
    has its config already, ``xaxengine resume RUN_DIR``, which continues from the newest checkpoint (or step 0).
    """
    if task_path is None or (run.run_dir / CONFIG_FILE).exists():
        argv = [*engine_command(), "resume", str(run.run_dir)]
    else:
        tag_overrides = [f"artifacts.tags.{key}={json.dumps(value)}" for key, value in tags.items()]
        argv = [*engine_command(), "run", str(task_path), *overrides, *tag_overrides]
        argv += ["--runs-dir", str(runs_dir), "--run-id", run_id]
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **run.slot.env}
    run.log.parent.mkdir(parents=True, exist_ok=True)
    log: IO[bytes]
    with open(run.log, "ab") as log:
        log.write(f"$ {' '.join(argv)}\n".encode())
        log.flush()
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    run.slot.pin(proc.pid)
    run.close()
    if hasattr(os, "pidfd_open"):
        try:
            run.exit_fd = os.pidfd_open(proc.pid)
        except OSError:  # an old kernel: the driver polls instead
            run.exit_fd = None
    run.state, run.started_t = "launching", time.time()
    return proc
