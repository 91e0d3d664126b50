"""Checkpoints, resume, signals and failures, driven through the real CLI with real signals."""

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import BIN, REPO, engine_env, run_engine
from xaxengine.protocol import read_events

FAST = [
    "hidden=32",
    "train.log_every_n_steps=1",
    "train.valid_every_n_steps=0",
    "checkpoint.save_every_n_steps=20",
    "logger.progress=plain",
    "logger.tensorboard=false",
    "stats.interval_s=0.2",
]


def events(run_dir: Path) -> list[dict]:
    return list(read_events(run_dir / "events.jsonl"))


def train_losses(run_dir: Path) -> dict[int, float]:
    """The loss per step, the last logged value winning (a resumed run re-logs the steps after its checkpoint)."""
    return {e["step"]: e["values"]["loss"] for e in events(run_dir) if e["kind"] == "scalars" and e["phase"] == "train"}


def start(runs: Path, run_id: str, *args: str, toml: str = "tasks/mnist.toml") -> subprocess.Popen[bytes]:
    cmd = [str(BIN / "xaxengine"), "run", toml, *FAST, *args, "--runs-dir", str(runs), "--run-id", run_id]
    return subprocess.Popen(cmd, cwd=REPO, env=engine_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def wait_for_step(run_dir: Path, step: int, proc: subprocess.Popen[bytes], timeout: float = 90) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"engine exited early: {proc.stderr.read().decode() if proc.stderr else ''}"
        if (run_dir / "events.jsonl").exists():
            steps = [e["step"] for e in events(run_dir) if e["kind"] == "scalars"]
            if steps and steps[-1] >= step:
                return steps[-1]
        time.sleep(0.02)
    raise AssertionError(f"step {step} not reached")


def checkpoint_steps(run_dir: Path) -> list[int]:
    return sorted(int(p.name) for p in (run_dir / "checkpoints").iterdir() if p.name.isdigit())


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> dict[int, float]:
    runs = tmp_path_factory.mktemp("ref")
    proc = run_engine("run", "tasks/mnist.toml", *FAST, "train.max_steps=120", "--runs-dir", str(runs), "--run-id", "r")
    assert proc.returncode == 0, proc.stderr
    losses = train_losses(runs / "mnist" / "r")
    assert sorted(losses) == list(range(1, 121))
    return losses


@pytest.mark.parametrize("seed", [1, 2])
def test_sigkill_at_a_random_step_then_resume_equals_uninterrupted(reference, runs_dir, seed):
    kill_at = random.Random(seed).randint(25, 100)
    proc = start(runs_dir, "k", "train.max_steps=120")
    run_dir = runs_dir / "mnist" / "k"
    wait_for_step(run_dir, kill_at, proc)
    while not any(e["kind"] == "checkpoint" for e in events(run_dir)):  # so the resume restores, not restarts
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(timeout=30) == -signal.SIGKILL
    newest = checkpoint_steps(run_dir)[-1]
    resumed = run_engine("resume", str(run_dir))
    assert resumed.returncode == 0, resumed.stderr
    assert train_losses(run_dir) == reference  # bitwise: same floats at every step
    seqs = [e["seq"] for e in events(run_dir)]
    assert seqs == sorted(set(seqs))
    starts = [e for e in events(run_dir) if e["kind"] == "run_start"]
    assert len(starts) == 2 and starts[1]["resumed_from_step"] == newest


@pytest.mark.parametrize(
    ("signum", "code", "resume_form"), [(signal.SIGINT, 130, "resume"), (signal.SIGTERM, 143, "run --resume")]
)
def test_stop_signal_checkpoints_current_step_and_resume_continues(runs_dir, signum, code, resume_form):
    proc = start(runs_dir, "s", "train.max_steps=400")
    run_dir = runs_dir / "mnist" / "s"
    wait_for_step(run_dir, 30, proc)
    proc.send_signal(signum)
    assert proc.wait(timeout=60) == code
    evs = events(run_dir)
    final = [e for e in evs if e["kind"] == "status"][-1]
    assert final["state"] == "interrupted"
    stopped_at = final["step"]
    assert stopped_at >= 30
    assert stopped_at in checkpoint_steps(run_dir)
    assert [e for e in evs if e["kind"] == "checkpoint"][-1]["step"] == stopped_at
    last_logged = max(e["step"] for e in evs if e["kind"] == "scalars")
    assert last_logged == stopped_at
    if resume_form == "run --resume":  # a task file next to --resume is refused, not silently ignored
        refused = run_engine("run", "tasks/mnist_cnn.toml", "--resume", str(run_dir))
        assert refused.returncode == 2 and "--resume" in refused.stderr and "Traceback" not in refused.stderr
    resumed = run_engine(*resume_form.split(), str(run_dir), "train.max_steps=" + str(stopped_at + 10))
    assert resumed.returncode == 0, resumed.stderr
    after = [e["step"] for e in events(run_dir)[len(evs) :] if e["kind"] == "scalars"]
    assert after[0] == stopped_at + 1 and after[-1] == stopped_at + 10


def test_checkpoint_command_saves_now_and_training_continues(runs_dir):
    # No end in sight (a 300-step run could finish before the request lands): the run is stopped by hand after.
    proc = start(runs_dir, "u", "train.max_steps=1000000", "checkpoint.save_every_n_steps=1000000")
    run_dir = runs_dir / "mnist" / "u"
    wait_for_step(run_dir, 15, proc)
    assert run_engine("checkpoint", str(run_dir)).returncode == 0
    deadline = time.monotonic() + 60
    while not (saved := [e["step"] for e in events(run_dir) if e["kind"] == "checkpoint"]):
        assert time.monotonic() < deadline and proc.poll() is None, "no checkpoint after the request"
        time.sleep(0.02)
    wait_for_step(run_dir, saved[0] + 20, proc)  # training goes on after the save
    assert run_engine("stop", str(run_dir)).returncode == 0
    assert proc.wait(timeout=60) == 143
    saved = [e["step"] for e in events(run_dir) if e["kind"] == "checkpoint"]
    stopped = [e["step"] for e in events(run_dir) if e["kind"] == "status"][-1]
    assert len(saved) == 2 and saved[0] >= 15 and saved[1] == stopped >= saved[0] + 20


def test_stop_command_and_lock_refuses_a_second_engine(runs_dir):
    proc = start(runs_dir, "l", "train.max_steps=100000")
    run_dir = runs_dir / "mnist" / "l"
    wait_for_step(run_dir, 5, proc)
    second = run_engine("resume", str(run_dir))
    assert second.returncode == 2 and "already in use by a live engine" in second.stderr
    assert str(proc.pid) in second.stderr
    assert run_engine("stop", str(run_dir)).returncode == 0
    assert proc.wait(timeout=60) == 143


def test_nan_stop_fails_with_step_and_keeps_only_good_checkpoints(runs_dir):
    proc = run_engine(
        "run",
        "tests/fixtures/tasks/faulty.toml",
        *FAST,
        "nan_from_step=25",
        "train.max_steps=100",
        "train.log_every_n_steps=5",
        "checkpoint.save_every_n_steps=10",
        "--runs-dir",
        str(runs_dir),
        "--run-id",
        "n",
    )
    assert proc.returncode == 1
    assert "non-finite loss or gradient at step 26" in proc.stderr
    run_dir = runs_dir / "faulty" / "n"
    final = [e for e in events(run_dir) if e["kind"] == "status"][-1]
    assert final["state"] == "failed" and final["step"] == 25 and "step 26" in final["reason"]
    assert checkpoint_steps(run_dir) == [10, 20]


def test_nan_skip_step_drops_bad_updates_and_finishes(runs_dir):
    proc = run_engine(
        "run",
        "tests/fixtures/tasks/faulty.toml",
        *FAST,
        "nan_from_step=25",
        "train.nan_policy=skip_step",
        "train.max_steps=40",
        "--runs-dir",
        str(runs_dir),
        "--run-id",
        "k",
    )
    assert proc.returncode == 0, proc.stderr
    evs = events(runs_dir / "faulty" / "k")
    assert any(e["kind"] == "log" and "non-finite" in e["message"] for e in evs)
    assert [e for e in evs if e["kind"] == "status"][-1]["state"] == "finished"
    import orbax.checkpoint as ocp

    state = ocp.StandardCheckpointer().restore((runs_dir / "faulty" / "k" / "checkpoints" / "40" / "state").resolve())
    assert all(np.isfinite(np.asarray(leaf)).all() for leaf in _leaves(state))


def test_exception_in_compute_loss_fails_cleanly(runs_dir):
    proc = run_engine(
        "run",
        "tests/fixtures/tasks/faulty.toml",
        *FAST,
        "raise_in_loss=true",
        "--runs-dir",
        str(runs_dir),
        "--run-id",
        "x",
    )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr and "ValueError: boom" in proc.stderr
    run_dir = runs_dir / "faulty" / "x"
    final = [e for e in events(run_dir) if e["kind"] == "status"][-1]
    assert final["state"] == "failed" and final["reason"] == "ValueError: boom"
    assert "Traceback" in (run_dir / "stdout.log").read_text()
    assert checkpoint_steps(run_dir) == []


def test_corrupted_latest_checkpoint_falls_back_to_previous(runs_dir):
    proc = run_engine(
        "run", "tasks/mnist.toml", *FAST, "train.max_steps=60", "--runs-dir", str(runs_dir), "--run-id", "c"
    )
    assert proc.returncode == 0, proc.stderr
    run_dir = runs_dir / "mnist" / "c"
    assert checkpoint_steps(run_dir) == [20, 40, 60]
    for path in (run_dir / "checkpoints" / "60").rglob("*"):
        if path.is_file():
            path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
    resumed = run_engine("resume", str(run_dir), "train.max_steps=70")
    assert resumed.returncode == 0, resumed.stderr
    messages = [e["message"] for e in events(run_dir) if e["kind"] == "log"]
    assert any("step 60 is unreadable" in m and "60.unreadable" in m for m in messages)
    assert any("restored the checkpoint at step 40" in m for m in messages)
    starts = [e for e in events(run_dir) if e["kind"] == "run_start"]
    assert starts[-1]["resumed_from_step"] == 40  # the step actually restored, not the newest folder
    after = [e for e in events(run_dir) if e["kind"] == "scalars" and e["t"] > 0]
    assert after[-1]["step"] == 70
    # the broken folder is kept aside, not deleted, and step 60 was saved again, readable
    assert (run_dir / "checkpoints" / "60.unreadable").is_dir()
    assert checkpoint_steps(run_dir) == [40, 60, 70]
    import orbax.checkpoint as ocp

    meta = ocp.JsonCheckpointHandler().restore((run_dir / "checkpoints" / "60" / "meta").resolve())
    assert meta["step"] == 60


def test_checkpoint_restores_with_plain_orbax_and_init_from_starts_from_weights(runs_dir):
    proc = run_engine(
        "run", "tasks/mnist.toml", *FAST, "train.max_steps=60", "--runs-dir", str(runs_dir), "--run-id", "a"
    )
    assert proc.returncode == 0, proc.stderr
    import orbax.checkpoint as ocp

    ckpt = (runs_dir / "mnist" / "a" / "checkpoints" / "60").resolve()
    state = ocp.StandardCheckpointer().restore(ckpt / "state")
    assert int(np.asarray(state["step"])) == 60
    assert np.asarray(state["key"]).shape == (2,)
    weights = [np.asarray(x) for x in _leaves(state["params"])]
    assert {w.shape for w in weights} >= {(32, 64), (10, 32)}
    meta = ocp.JsonCheckpointHandler().restore(ckpt / "meta")
    assert meta["step"] == 60 and meta["loader"]["epoch"] >= 0 and meta["config"]["train"]["max_steps"] == 60

    fresh = run_engine(
        "run", "tasks/mnist.toml", *FAST, "train.max_steps=1", "--runs-dir", str(runs_dir), "--run-id", "f"
    )
    tuned = run_engine(
        "run",
        "tasks/mnist.toml",
        *FAST,
        "train.max_steps=1",
        "--init-from",
        str(runs_dir / "mnist" / "a"),
        "--runs-dir",
        str(runs_dir),
        "--run-id",
        "t",
    )
    assert fresh.returncode == 0 and tuned.returncode == 0, tuned.stderr
    trained_loss = train_losses(runs_dir / "mnist" / "a")[60]
    tuned_loss, fresh_loss = train_losses(runs_dir / "mnist" / "t")[1], train_losses(runs_dir / "mnist" / "f")[1]
    assert tuned_loss < fresh_loss - 0.3 and abs(tuned_loss - trained_loss) < 0.3


def _leaves(tree):
    import jax

    return jax.tree.leaves(tree)


def test_python_script_run_is_recorded_by_module_path_and_resumes(runs_dir):
    cmd = [sys.executable, "tasks/mnist.py", *FAST, "train.max_steps=20", "--runs-dir", str(runs_dir), "--run-id", "py"]
    proc = subprocess.run(cmd, cwd=REPO, env=engine_env(), capture_output=True, text=True, timeout=240, check=False)
    assert proc.returncode == 0, proc.stderr
    run_dir = runs_dir / "mnist" / "py"
    assert next(e for e in events(run_dir) if e["kind"] == "run_start")["task"] == "tasks.mnist:MnistTask"
    resumed = run_engine("resume", str(run_dir), "train.max_steps=30")
    assert resumed.returncode == 0, resumed.stderr
    assert max(train_losses(run_dir)) == 30
