"""A stop that means now: a graceful stop lands within two steps of the signal, and a second signal exits at once."""

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.fixtures.faults import ENGINE, FAST, REPO, engine_env, outcome
from xaxengine.protocol import Kind, State
from xaxengine.task.run_context import StepsInFlight

HARNESS = """
import sys
import numpy as np
from xaxengine.task.mixins.process import SignalFlags
flags = SignalFlags()
flags.install()
a = np.random.default_rng(0).random((1500, 1500))
print("ready", flush=True)
for _ in range(400):
    a @ a  # the main thread sits in C here, where Python-level handlers cannot run
    if flags.stop_signal is not None:
        for _ in range(20):
            a @ a  # the graceful stop's own work (a checkpoint save), in C too
        print("graceful", flags.stop_deliveries, flush=True)
        sys.exit(0)
"""


def test_a_second_stop_signal_always_exits_at_once_even_while_the_main_thread_is_busy_in_c(tmp_path: Path):
    """Before the watcher, both signals reached one Python-level handler call (0 of 6 exited at once).

    The kernel itself merges two SIGTERMs when the second arrives before the first was delivered (a machine so
    loaded that no thread of the process ran for 50 ms); the harness reports how many it received, and only such
    trials may end gracefully.
    """
    harness = tmp_path / "harness.py"
    harness.write_text(HARNESS)
    outcomes = []
    for _ in range(20):
        proc = subprocess.Popen([sys.executable, str(harness)], cwd=REPO, env=engine_env(), stdout=subprocess.PIPE)
        assert proc.stdout is not None and proc.stdout.readline().strip() == b"ready"
        time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
        outcomes.append((proc.returncode, out.decode().strip()))
    immediate = [o for o in outcomes if o == (143, "")]
    merged_by_the_kernel = [o for o in outcomes if o == (0, "graceful 1")]
    assert len(immediate) + len(merged_by_the_kernel) == 20, outcomes
    assert len(immediate) >= 15, outcomes


def start_stoppable(tmp_path: Path, run_id: str, *overrides: str) -> tuple[subprocess.Popen, Path, Path]:
    progress = tmp_path / f"{run_id}.steps"
    toml = tmp_path / "stop.toml"
    toml.write_text('task = "tests.fixtures.tasks.stop_task:StopTask"\n')
    runs = tmp_path / "runs"
    cmd = [str(ENGINE), "run", str(toml), *FAST, f"progress_file={str(progress)!r}", "--runs-dir", str(runs)]
    cmd += ["--run-id", run_id, "train.max_steps=1000000", "train.log_every_n_steps=100000", *overrides]
    cmd += ["train.valid_every_n_steps=0", "checkpoint.save_every_n_steps=0"]
    proc = subprocess.Popen(cmd, cwd=REPO, env=engine_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return proc, progress, runs / "stop" / run_id


def executing_step(progress: Path) -> int:
    lines = progress.read_text().split() if progress.exists() else []
    return int(lines[-1]) if lines else -1


def wait_for_step(proc: subprocess.Popen, progress: Path, step: int) -> None:
    deadline = time.monotonic() + 180
    while executing_step(progress) < step:
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        assert time.monotonic() < deadline, "the engine never reached the step"
        time.sleep(0.01)


def stop_latency(tmp_path: Path, run_id: str, at_step: int, *overrides: str) -> int:
    """Steps between the one executing on the device when SIGTERM is sent and the step the stop lands at."""
    proc, progress, run_dir = start_stoppable(tmp_path, run_id, *overrides)
    wait_for_step(proc, progress, at_step)
    seen = executing_step(progress)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=180)
    done = outcome(subprocess.CompletedProcess(proc.args, proc.returncode, "", err.decode()), run_dir)
    assert proc.returncode == 143, done.stderr_lines[-5:]
    final = done.final_status
    assert final is not None and final["state"] == State.INTERRUPTED
    return final["step"] - seen


class Token:
    def __init__(self, log: list[int], step: int) -> None:
        self.log, self.step = log, step

    def block_until_ready(self) -> None:
        self.log.append(self.step)


@pytest.mark.parametrize("limit", [1, 2, 5, 8])
def test_steps_in_flight_waits_for_the_oldest_half_once_limit_are_outstanding(limit: int):
    waited: list[int] = []
    window = StepsInFlight(limit)
    half = max(1, limit // 2)
    done = -1  # steps finish in order: a step waited for means every older one is done
    for step in range(40):
        window.add(Token(waited, step))
        done = max(waited, default=-1)
        outstanding = step - done
        assert outstanding <= limit - 1  # so the next dispatch makes `limit` at most
        if step >= limit - 1:
            assert outstanding >= limit - half  # the queue never drains below half: the device stays busy
    # one wait per `half` dispatches, each for the newest of the oldest half
    assert waited == list(range(half - 1, 40, half))[: len(waited)]
    assert len(waited) == (40 - limit) // half + 1


@pytest.mark.parametrize(("step_s", "depth"), [(0.0002, 8), (0.001, 8), (0.002, 5), (0.004, 2), (0.005, 2), (0.5, 2)])
def test_the_queue_holds_as_many_steps_as_take_dispatch_ahead_s_between_2_and_the_limit(step_s: float, depth: int):
    """The device's pace is read where the loop waits (the fake token's wait takes the steps behind it)."""
    now = [0.0]
    window = StepsInFlight(8, ahead_s=0.01, clock=lambda: now[0])
    waited: list[int] = []
    assert window.depth() == 2  # the pace is not known yet
    for step in range(12 * StepsInFlight.SAMPLES):
        now[0] += step_s * (3 if step % 50 == 0 else 1)  # a slow step now and then (a log, a hook) does not count
        window.add(Token(waited, step))
    assert window.depth() == depth
    assert window.step_s is not None and window.step_s == pytest.approx(step_s)


def test_a_depth_the_pace_shrinks_drains_the_queue_to_it_at_the_next_wait():
    now = [0.0]
    window = StepsInFlight(8, ahead_s=0.01, clock=lambda: now[0])
    waited: list[int] = []
    step = 0
    while window.depth() < 8:  # fast steps: the queue deepens
        now[0] += 0.0002
        window.add(Token(waited, step))
        step += 1
    while window.depth() == 8:  # then steps of 10 ms: the pace allows 2
        now[0] += 0.01
        window.add(Token(waited, step))
        step += 1
    now[0] += 0.01
    window.add(Token(waited, step))
    assert step - max(waited) <= window.depth() - 1 == 1


def test_the_pace_never_takes_the_queue_past_the_limit_or_below_it_when_the_limit_is_1():
    for limit in (1, 3):
        ticks = iter(range(10**6))
        window = StepsInFlight(limit, ahead_s=10.0, clock=lambda ticks=ticks: next(ticks) * 0.001)
        for step in range(40):
            window.add(Token([], step))
        assert window.depth() == limit


@pytest.mark.parametrize("trial", range(4))
def test_a_stop_lands_within_two_steps_of_the_signal(tmp_path: Path, trial: int):
    # A wide MLP makes a step take milliseconds, so the default queue is 2 deep. On this CPU backend the host
    # callback that reports the executing step keeps the host close to the device even without the bound (latency 1
    # either way), so this checks the end-to-end promise; the unit tests above are the ones that fail without it.
    latency = stop_latency(tmp_path, f"t{trial}", 60 + 37 * trial, "hidden=1024", "depth=3")
    assert 0 <= latency <= 2


def test_the_second_signal_of_a_pair_50ms_apart_exits_the_real_engine_at_once(tmp_path: Path):
    proc, progress, run_dir = start_stoppable(tmp_path, "double", "hidden=1024", "depth=3")
    wait_for_step(proc, progress, 50)
    proc.send_signal(signal.SIGTERM)
    time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=180)
    assert proc.returncode == 143
    done = outcome(subprocess.CompletedProcess(proc.args, proc.returncode, "", err.decode()), run_dir)
    assert done.final_status is not None and done.final_status["state"] != State.INTERRUPTED  # no graceful end
    assert done.kinds(Kind.CHECKPOINT) == []
