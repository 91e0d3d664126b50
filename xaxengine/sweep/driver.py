"""The sweep driver: asks Optuna for trials, runs each as an engine run, reports its objective, prunes, tells.

One loop, no threads: every ``POLL_S``, or at once when one of its engines exits (a pidfd in ``select``), it reads
the running trials' new events (reporting each objective value to the pruner, SIGTERM-ing a trial it prunes),
settles the trials whose engine ended, and starts new ones while a slot is free and the budget (``trials``,
``timeout_s``) allows. Nothing lives only in this process: the study is in
Optuna's storage, each trial's run dir and worker are its user attrs, so a driver killed with SIGKILL loses nothing
and ``--resume`` (or any ``--join``-ed driver) takes over the trials of drivers that are gone.
"""

import fcntl
import json
import os
import resource
import select
import signal
import subprocess
import time
from collections.abc import Generator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import optuna
from optuna.trial import TrialState

from xaxengine.exit_codes import exit_code_for_signal
from xaxengine.protocol import TERMINAL_STATES, State
from xaxengine.runs import CONFIG_FILE, RunLock, live_pid
from xaxengine.sweep.control import clear_prune, prune_requests, requested_parallel
from xaxengine.sweep.placement import Slot, make_slots
from xaxengine.sweep.report import Reporter, TrialRow, format_params, format_value, summary_lines
from xaxengine.sweep.spec import SweepSpec, grid_size, new_tracker, trial_overrides
from xaxengine.sweep.study import (
    BEST_FILE,
    STATUS_FILE,
    SweepMeta,
    decoded_params,
    finite,
    suggest,
    worker_name,
    write_atomic,
    write_best_toml,
)
from xaxengine.sweep.trial import EXIT_CODES_OF_STATE, TrialRun, spawn

POLL_S = 0.5  # how stale the pruner's view may be; an engine's exit wakes the loop at once
STATUS_EVERY_S = 1.0
MAX_RESTARTS = 1  # an engine that dies (not a clean failure) is resumed this many times before the trial fails


@dataclass
class DriverStats:
    """What the overhead bench reads: this driver's launches, trial ends and CPU time (``status.json``)."""

    launches: list[tuple[int, float]] = field(default_factory=list)  # (slot, wall time)
    ends: list[tuple[int, float]] = field(default_factory=list)


class SweepDriver:
    """Runs a sweep's trials until its budget is spent or it is stopped (SIGTERM, SIGINT, ``sweep stop``)."""

    def __init__(
        self, spec: SweepSpec, meta: SweepMeta, sweep_dir: Path, study: optuna.Study, reporter: Reporter
    ) -> None:
        """Prepares a driver; nothing runs before :meth:`run`."""
        self.spec, self.meta, self.sweep_dir, self.study, self.reporter = spec, meta, sweep_dir, study, reporter
        self.runs_dir = Path(meta.runs_dir)
        self.name = worker_name()
        self.slots = make_slots(spec.file.parallel)
        self.running: dict[int, TrialRun] = {}  # slot index -> trial
        self.rows: dict[int, TrialRow] = {}
        self.budget = min(spec.file.trials, grid_size(spec)) if spec.file.sampler == "grid" else spec.file.trials
        self.deadline = time.monotonic() + spec.file.timeout_s if spec.file.timeout_s else None
        self.exhausted = False
        self.stop_signal: int | None = None
        self.stats = DriverStats()
        self._status_t = 0.0
        self._cpu_at_start = 0.0
        self._wakeup_r = -1
        self.draining: list[TrialRun] = []  # settled trials whose engine process is still shutting down
        self._best_number: int | None = None
        self._orphans: list[tuple[optuna.Trial, dict[str, Any]]] = []  # taken over, waiting for a free slot

    # -- the loop ----------------------------------------------------------------------------------------------

    def run(self) -> int:
        """Drives the sweep; returns 0 when its budget is spent, 130/143 when it was stopped."""
        worker_dir = self.sweep_dir / "workers" / self.name
        worker_dir.mkdir(parents=True, exist_ok=True)
        lock = RunLock(worker_dir)
        lock.acquire()
        previous = {s: signal.signal(s, self._on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
        self._wakeup_r, wakeup_w = os.pipe()  # a signal writes a byte here, so the wait below ends at once
        os.set_blocking(wakeup_w, False)
        previous_wakeup = signal.set_wakeup_fd(wakeup_w)
        self._cpu_at_start = _cpu_seconds()
        try:
            self._load_rows()
            self._take_over_orphans()
            stopping = False
            while True:
                if self.stop_signal is not None and not stopping:
                    stopping = True
                    for run in self.running.values():
                        run.stopping = True
                        run.send(signal.SIGTERM)
                self._follow_requests()
                self._poll()
                if not stopping:
                    self._fill_slots()
                self.draining = [r for r in self.draining if r.proc is not None and r.proc.poll() is None]
                if not self.running and (stopping or self.exhausted):
                    break
                self.reporter.refresh(self.rows, self._best_row())
                self._write_status()
                self._wait()
            self._reap_draining()
            self._write_status(force=True, state="stopped" if stopping else "finished")
            self.reporter.close(
                summary_lines(
                    self.meta.sweep_id,
                    self.spec.file.objective,
                    self.rows,
                    self._best_row(),
                    self.sweep_dir / BEST_FILE,
                    stopping,
                )
            )
            return exit_code_for_signal(self.stop_signal or signal.SIGTERM) if stopping else 0
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
            signal.set_wakeup_fd(previous_wakeup)
            os.close(self._wakeup_r)
            os.close(wakeup_w)
            lock.release()

    def _reap_draining(self, timeout_s: float = 60.0) -> None:
        """Waits for engines that ended their run but not yet their process (they exit by themselves anyway)."""
        deadline = time.monotonic() + timeout_s
        for run in self.draining:
            if run.proc is not None:
                try:
                    run.proc.wait(timeout=max(0.0, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    continue
        self.draining = []

    def _wait(self) -> None:
        """Sleeps until the next poll, or until one of this driver's engines exits, or a signal arrives."""
        fds = [run.exit_fd for run in self.running.values() if run.exit_fd is not None]
        ready, _, _ = select.select([self._wakeup_r, *fds], [], [], POLL_S)
        if self._wakeup_r in ready:
            os.read(self._wakeup_r, 64)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        del frame
        if self.stop_signal is not None:  # a second signal: leave at once (the engines stop by themselves)
            raise SystemExit(exit_code_for_signal(signum))
        self.stop_signal = signum

    def _follow_requests(self) -> None:
        """Takes up a new ``parallel`` and prunes the trials asked for by hand (files in the sweep folder)."""
        parallel = requested_parallel(self.sweep_dir)
        if parallel is not None and parallel != len(self.slots):
            self.reporter.line(f"parallel {len(self.slots)} -> {parallel} (asked in {self.sweep_dir})")
            self.slots = make_slots(parallel)  # running trials keep their slot until they end
            self._write_status(force=True)
        asked = prune_requests(self.sweep_dir)
        for run in self.running.values():
            if run.number in asked:
                clear_prune(self.sweep_dir, run.number)
                if not (run.pruning or run.stopping):
                    run.pruning, run.prune_reason = True, f"pruned by hand at step {run.step}"
                    run.trial.set_user_attr("pruning", True)
                    run.send(signal.SIGTERM, reason=run.prune_reason)
                    self.reporter.line(f"trial {run.number} {run.prune_reason}")

    def _poll(self) -> None:
        for index, run in list(self.running.items()):
            for step, value in run.read_events(self.spec.objective_phase, self.spec.objective_name):
                run.reported.add(step)
                run.trial.report(value, step)
                if not (run.pruning or run.stopping) and run.trial.should_prune():
                    run.pruning = True
                    run.trial.set_user_attr("pruning", True)
                    run.send(signal.SIGTERM, reason=f"pruned at step {step}")
                    self.reporter.line(
                        f"trial {run.number} pruned at step {step} ({self.spec.file.objective}={value:.5g})"
                    )
            row = self.rows[run.number]
            row.step, row.value = run.step, run.tracker.value()
            row.state = "pruning" if run.pruning else run.state
            code = run.exit_code()
            if code is None and run.proc is not None and run.state in TERMINAL_STATES:
                # Its last word is said (checkpoint saved, value logged): free the slot while it shuts down,
                # which takes the engine seconds (closing loggers and checkpoints, interpreter teardown).
                code = EXIT_CODES_OF_STATE[State(run.state)]
                self.draining.append(run)
            if code is not None:
                run.read_events(self.spec.objective_phase, self.spec.objective_name)  # the lines written last
                self._settle(index, run, code)

    # -- starting trials ---------------------------------------------------------------------------------------

    def _fill_slots(self) -> None:
        for slot in self.slots:
            if slot.index in self.running:
                continue
            if len(self.running) >= len(self.slots):  # parallel was lowered: wait for trials to end
                return
            if self._orphans:
                self._launch(slot, *self._orphans.pop(0), resume=True)
                continue
            if self.exhausted or (self.deadline is not None and time.monotonic() > self.deadline):
                self.exhausted = True
                return
            trial = self._ask()
            if trial is None:
                self.exhausted = True
                return
            self._launch(slot, trial, suggest(trial, self.spec))

    @contextmanager
    def _ask_lock(self) -> Generator[None]:
        """Serializes counting and asking among the drivers that share this sweep folder."""
        with open(self.sweep_dir / "ask.lock", "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _ask(self) -> optuna.Trial | None:
        with self._ask_lock():
            trials = self.study.get_trials(deepcopy=False)
            if sum(t.state != TrialState.WAITING for t in trials) >= self.budget:
                return None
            trial = self.study.ask()
            trial.set_user_attr("worker", self.name)
        if trial.number >= max(self.budget, len(self.spec.file.enqueue)):  # a worker outside this folder's lock
            trial.set_user_attr("reason", "over budget (another worker asked first)")
            self.study.tell(trial, state=TrialState.FAIL)
            return None
        return trial

    def _launch(self, slot: Slot, trial: optuna.Trial, values: dict[str, Any], resume: bool = False) -> None:
        """Starts a trial's engine in ``slot``.

        With ``resume`` it continues the trial's run dir instead, or watches its engine when one still lives, or only
        settles it when its engine ended while no driver was watching.
        """
        run_id = f"{self.meta.sweep_id}-t{trial.number:03d}"
        run_dir = self.runs_dir / self.meta.task_dir / run_id
        trial.set_user_attr("run_dir", str(run_dir))
        trial.set_user_attr("slot", slot.describe())
        log = self.sweep_dir / "logs" / f"t{trial.number:03d}.log"
        run = TrialRun(trial.number, trial, run_dir, values, slot, new_tracker(self.spec), None, log)
        verb = "started"
        if resume:
            frozen = self.study._storage.get_trial(trial._trial_id)  # no public read of one trial
            run.reported = set(frozen.intermediate_values)
            run.pruning = bool(frozen.user_attrs.get("pruning"))
            run.read_events(self.spec.objective_phase, self.spec.objective_name)  # what it logged before
            ended = run.state in (State.FINISHED, State.FAILED) or (run.pruning and run.state == State.INTERRUPTED)
            if live_pid(run_dir) is not None:
                verb = "adopted"  # its engine outlived the driver that launched it: watch it through its lock
            elif ended:
                verb = "recovered"  # it ended while no driver watched: settle it from its events
            else:
                verb = "resumed" if (run_dir / CONFIG_FILE).exists() else "started"
        if verb in ("started", "resumed"):
            run.proc = spawn(
                run,
                task_path=None if verb == "resumed" else self.spec.task_path,
                overrides=trial_overrides(self.spec, values),
                runs_dir=self.runs_dir,
                run_id=run_id,
                tags={"sweep": self.meta.sweep_id, "trial": str(trial.number)},
            )
        self.running[slot.index] = run
        self.stats.launches.append((slot.index, time.time()))
        self.rows[trial.number] = TrialRow(
            trial.number, "launching", values, run_dir=str(run_dir), slot=slot.describe(), started_t=time.time()
        )
        self.reporter.line(f"trial {trial.number} {verb} on {slot.describe()}: {format_params(values)} ({run_dir})")

    def _take_over_orphans(self) -> None:
        """Claims the RUNNING trials whose driver is gone; :meth:`_fill_slots` continues them first."""
        with self._ask_lock():
            running = self.study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
            for frozen in [t for t in running if self._orphan(t)]:
                trial = optuna.Trial(self.study, frozen._trial_id)  # the handle ask() would give
                trial.set_user_attr("worker", self.name)
                self._orphans.append((trial, decoded_params(self.spec, frozen.params)))

    def _orphan(self, frozen: optuna.trial.FrozenTrial) -> bool:
        worker = frozen.user_attrs.get("worker")
        if worker is None:
            return True  # its driver died between ask and the first record
        folder = self.sweep_dir / "workers" / str(worker)
        return worker != self.name and folder.is_dir() and live_pid(folder) is None

    # -- ending trials -----------------------------------------------------------------------------------------

    def _settle(self, index: int, run: TrialRun, code: int) -> None:
        """Records an ended engine in the study (or leaves the trial RUNNING for a later resume)."""
        del self.running[index]
        run.close()
        clear_prune(self.sweep_dir, run.number)
        self.stats.ends.append((index, time.time()))
        row = self.rows[run.number]
        row.ended_t, row.value = time.time(), run.tracker.value()
        value = run.tracker.value()
        if run.stopping and self.stop_signal is not None:
            row.state, row.reason = "stopped", "sweep stopped; --resume continues it"
            self.reporter.line(f"trial {run.number} stopped at step {run.step} (resume continues it)")
            return
        if code == 0 and run.state == State.FINISHED:  # also when a prune came too late: its value is worth more
            if finite(value):
                self._tell(run, TrialState.COMPLETE, value, "")
            else:
                what = "never logged" if value is None else f"is {value}"
                self._tell(run, TrialState.FAIL, None, f"objective {self.spec.file.objective!r} {what}")
        elif run.pruning:
            self._tell(run, TrialState.PRUNED, None, run.prune_reason or f"pruned at step {run.step}")
        elif run.state == State.INTERRUPTED:
            self._tell(run, TrialState.PRUNED, None, f"stopped by hand at step {run.step}")
        elif code == 2 and run.state == "launching":
            self._tell(run, TrialState.FAIL, None, f"invalid config: {run.last_log_line()}")
        elif run.state == State.FAILED or code == 1:
            self._tell(run, TrialState.FAIL, None, run.reason or run.last_log_line() or f"exit {code}")
        else:
            self._restart_or_fail(index, run, code)

    def _restart_or_fail(self, index: int, run: TrialRun, code: int) -> None:
        restarts = int(run.trial.user_attrs.get("restarts", 0))
        if restarts >= MAX_RESTARTS:
            self._tell(run, TrialState.FAIL, None, f"engine died (exit {code}) {restarts + 1} times")
            return
        run.trial.set_user_attr("restarts", restarts + 1)
        self.reporter.line(f"trial {run.number}: engine died (exit {code}); resuming it from its last checkpoint")
        self._launch(run.slot, run.trial, run.params, resume=True)

    def _tell(self, run: TrialRun, state: TrialState, value: float | None, reason: str) -> None:
        if reason:
            run.trial.set_user_attr("reason", reason)
        if state == TrialState.COMPLETE:
            self.study.tell(run.trial, value, state=state)
        else:
            self.study.tell(run.trial, state=state)
        row = self.rows[run.number]
        row.state, row.reason = state.name.lower(), reason
        row.value = value if value is not None else row.value
        note = f"{self.spec.file.objective}={format_value(value)}" if value is not None else reason
        self.reporter.line(f"trial {run.number} {row.state}: {note}")
        self._load_rows()  # the other drivers' trials too: best.toml is the sweep's best, not this driver's
        best = self._best_row()
        if best is not None and best.number != self._best_number:
            self._best_number = best.number
            write_best_toml(self.spec, best.params, self.sweep_dir / BEST_FILE)
        self._write_status(force=True)

    # -- records -----------------------------------------------------------------------------------------------

    def _load_rows(self) -> None:
        """Rows from the study for every trial this driver is not running itself.

        Called at start and before each forced status write: drivers that share the study (``--join``, a Slurm
        array) each write the one ``status.json``, so each must count the others' trials, not only its own.
        """
        mine = {run.number for run in self.running.values()}
        for t in self.study.get_trials(deepcopy=False):
            if t.state == TrialState.WAITING or t.number in mine or _over_budget(t):
                continue  # an over-budget trial was asked and failed at once: never one of the sweep's trials
            row = self.rows.get(t.number)
            if row is not None and row.state == t.state.name.lower():
                continue  # already known (and this driver's own rows keep their start and end times)
            self.rows[t.number] = TrialRow(
                t.number,
                t.state.name.lower(),
                decoded_params(self.spec, t.params),
                value=t.value,
                step=max(t.intermediate_values, default=0),
                run_dir=str(t.user_attrs.get("run_dir", "")),
                reason=str(t.user_attrs.get("reason", "")),
                slot=str(t.user_attrs.get("slot", "")),
            )

    def _best_row(self) -> TrialRow | None:
        done = [r for r in self.rows.values() if r.state == "complete" and finite(r.value)]
        if not done:
            return None
        sign = -1.0 if self.spec.file.direction == "maximize" else 1.0
        return min(done, key=lambda r: (sign * (r.value or 0.0), r.number))

    def _write_status(self, force: bool = False, state: str = "running") -> None:
        if not force and time.monotonic() - self._status_t < STATUS_EVERY_S:
            return
        self._status_t = time.monotonic()
        if force:
            self._load_rows()
        best = self._best_row()
        status = {
            "sweep_id": self.meta.sweep_id,
            "state": state,
            "worker": self.name,
            "trials": self.budget,
            "parallel": len(self.slots),
            "done": sum(r.state in ("complete", "pruned", "fail") for r in self.rows.values()),
            "objective": self.spec.file.objective,
            "direction": self.spec.file.direction,
            "best": best.to_dict() if best else None,
            "rows": [r.to_dict() for r in sorted(self.rows.values(), key=lambda r: r.number)],
            "driver_cpu_s": _cpu_seconds(),
            "driver_cpu_before_loop_s": self._cpu_at_start,
            "launches": self.stats.launches,
            "ends": self.stats.ends,
            "updated_t": time.time(),
        }
        write_atomic(self.sweep_dir / STATUS_FILE, json.dumps(status) + "\n")


def _over_budget(trial: optuna.trial.FrozenTrial) -> bool:
    return str(trial.user_attrs.get("reason", "")).startswith("over budget")


def _cpu_seconds() -> float:
    """This process's CPU time (user + system): imports, storage, polling; not its engines'."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime
