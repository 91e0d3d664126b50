"""The Grain path through the real CLI: exact resume after SIGKILL with workers and a transform, bad examples."""

import os
import signal
import subprocess
import time

import psutil
import pytest

from tests.conftest import BIN, REPO, engine_env, run_engine
from tests.xaxengine.data.kill_resume import events, final_status, kill_after_first_checkpoint, run_dir_of, train_losses

TOML = "tests/xaxengine/data/augment.toml"


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> dict[int, float]:
    """An uninterrupted 60-step run with two workers."""
    runs = tmp_path_factory.mktemp("ref")
    proc = run_engine("run", TOML, "--runs-dir", str(runs), "--run-id", "r")
    assert proc.returncode == 0, proc.stderr
    losses = train_losses(run_dir_of(runs, "r"))
    assert sorted(losses) == list(range(1, 61))
    return losses


def test_sigkill_then_resume_with_other_worker_count_sees_the_same_batches(reference, runs_dir):
    run_dir, children = kill_after_first_checkpoint(runs_dir, "k", TOML)
    workers = [c for c in children if "multiprocessing" in " ".join(_cmdline(c))]
    assert len(workers) >= 2, "the run had no worker processes to orphan"
    _, alive = psutil.wait_procs(workers, timeout=20)
    assert not alive, f"workers outlived the killed trainer: {[p.pid for p in alive]}"
    killed_at = max(train_losses(run_dir))
    assert killed_at < 60, "the run finished before the kill; nothing was resumed"
    resumed = run_engine("resume", str(run_dir), "data.num_workers=1")  # a different worker count
    assert resumed.returncode == 0, resumed.stderr
    assert train_losses(run_dir) == reference  # bitwise: same floats at every step
    starts = [e for e in events(run_dir) if e["kind"] == "run_start"]
    assert len(starts) == 2 and starts[1]["resumed_from_step"] >= 20


def test_in_process_pipeline_equals_the_worker_pipeline(reference, runs_dir):
    proc = run_engine("run", TOML, "data.num_workers=0", "--runs-dir", str(runs_dir), "--run-id", "w0")
    assert proc.returncode == 0, proc.stderr
    assert train_losses(run_dir_of(runs_dir, "w0")) == reference


def test_a_raising_transform_fails_the_run_with_one_line_naming_the_example(runs_dir):
    proc = run_engine("run", TOML, "fail_index=17", "--runs-dir", str(runs_dir), "--run-id", "f")
    assert proc.returncode == 1
    status = final_status(run_dir_of(runs_dir, "f"))
    assert status["state"] == "failed"
    assert status["reason"] == "DataError: transform failed on example 17 (epoch 0): ValueError: unreadable image"
    errors = [line for line in proc.stderr.splitlines() if line.startswith("xaxengine: error:")]
    assert len(errors) == 1 and "example 17" in errors[0]


def test_on_error_skip_replaces_and_counts_the_bad_example(runs_dir):
    proc = run_engine("run", TOML, "fail_index=17", "data.on_error=skip", "--runs-dir", str(runs_dir), "--run-id", "s")
    assert proc.returncode == 0, proc.stderr
    run_dir = run_dir_of(runs_dir, "s")
    assert final_status(run_dir)["state"] == "finished"
    skips = [e["message"] for e in events(run_dir) if e["kind"] == "log" and "on_error=skip" in e.get("message", "")]
    assert skips, "no skip was reported"
    assert "transform failed on example 17" in skips[0]
    assert "so far" in skips[-1]


def _cmdline(process: psutil.Process) -> list[str]:
    """A child's command line; an exited (zombie or reaped) child has none."""
    try:
        return process.cmdline()
    except psutil.Error:
        return []


def test_a_worker_killed_mid_run_is_named_in_one_line_and_the_run_fails(runs_dir):
    args = ("train.max_steps=100000", "step_sleep_s=0.02", "checkpoint.save_every_n_steps=0")
    cmd = [str(BIN / "xaxengine"), "run", TOML, *args, "--runs-dir", str(runs_dir), "--run-id", "oom"]
    proc = subprocess.Popen(
        cmd, cwd=REPO, env=engine_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 180
        while not (run_dir := next(runs_dir.glob("*/oom"), None)) or not _running(run_dir):
            assert proc.poll() is None and time.monotonic() < deadline, "the run never started training"
            time.sleep(0.2)
        workers = [c for c in psutil.Process(proc.pid).children() if "spawn_main" in " ".join(_cmdline(c))]
        assert len(workers) == 2
        victim = workers[0].pid
        os.kill(victim, signal.SIGKILL)  # what the OOM killer does
        _, stderr = proc.communicate(timeout=60)  # never a hang
    finally:
        proc.kill()
    assert proc.returncode == 1
    status = final_status(run_dir)
    expected = f"DataError: data worker pid {victim} was killed (signal 9, out of memory?)"
    assert status["state"] == "failed" and status["reason"].startswith(expected), status
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("xaxengine: error: run failed") and str(victim) in lines[0], lines


def _running(run_dir) -> bool:
    journal = run_dir / "events.jsonl"
    return journal.exists() and any(e["kind"] == "scalars" for e in events(run_dir))
