"""Gradient accumulation and several steps per call, driven through the real CLI on the digits task."""

import signal
import subprocess
from pathlib import Path

import numpy as np
import orbax.checkpoint as ocp
import pytest

from tests.conftest import BIN, REPO, engine_env, run_engine
from xaxengine.protocol import read_events

FAST = [
    "hidden=32",
    "train.valid_every_n_steps=0",
    "logger.progress=off",
    "logger.tensorboard=false",
    "stats.enabled=false",
]


def run(runs: Path, run_id: str, *args: str) -> Path:
    proc = run_engine("run", "tasks/mnist.toml", *FAST, *args, "--runs-dir", str(runs), "--run-id", run_id)
    assert proc.returncode == 0, proc.stderr
    return runs / "mnist" / run_id


def train_values(run_dir: Path, name: str) -> dict[int, float]:
    return {
        e["step"]: e["values"][name]
        for e in read_events(run_dir / "events.jsonl")
        if e["kind"] == "scalars" and e["phase"] == "train"
    }


def params_at(run_dir: Path, step: int) -> list[np.ndarray]:
    import jax

    with ocp.CheckpointManager((run_dir / "checkpoints").resolve(), options=ocp.CheckpointManagerOptions()) as m:
        restored = m.restore(step, args=ocp.args.Composite(state=ocp.args.StandardRestore()))
    return [np.asarray(x) for x in jax.tree.leaves(restored["state"]["params"])]


def test_grad_accum_4_equals_unaccumulated_per_step(runs_dir):
    common = ["train.max_steps=30", "train.log_every_n_steps=1", "checkpoint.save_every_n_steps=0"]
    whole = run(runs_dir, "k1", *common)
    micro = run(runs_dir, "k4", *common, "train.grad_accum_steps=4")
    for name in ("loss", "accuracy"):
        expected, got = train_values(whole, name), train_values(micro, name)
        assert sorted(got) == list(range(1, 31))
        np.testing.assert_allclose([got[s] for s in expected], list(expected.values()), rtol=0, atol=1e-5)
    assert train_values(whole, "loss")[30] < train_values(whole, "loss")[1]  # it trained, so equality means something
    scratch = [
        next(e["temp_bytes"] for e in read_events(d / "events.jsonl") if e["kind"] == "compile") for d in (whole, micro)
    ]
    assert scratch[1] < scratch[0]  # the compile event reports the step's scratch memory, which microbatches shrink


def test_steps_per_call_8_equals_one_step_per_call(runs_dir):
    common = ["train.max_steps=48", "train.log_every_n_steps=8", "checkpoint.save_every_n_steps=48"]
    one = run(runs_dir, "c1", *common)
    eight = run(runs_dir, "c8", *common, "train.steps_per_call=8")
    expected, got = train_values(one, "loss"), train_values(eight, "loss")
    assert sorted(got) == [8, 16, 24, 32, 40, 48]
    np.testing.assert_allclose([got[s] for s in expected], list(expected.values()), rtol=0, atol=1e-6)
    for a, b in zip(params_at(one, 48), params_at(eight, 48), strict=True):  # every one of the 48 updates agreed
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ("train.log_every_n_steps=50", "train.log_every_n_steps=50"),
        ("checkpoint.save_every_n_steps=500", "checkpoint.save_every_n_steps=500"),
        ("train.max_steps=100", "train.max_steps=100"),
    ],
)
def test_cadence_inside_a_call_is_refused_in_one_line(runs_dir, override, field):
    proc = run_engine(
        "run", "tasks/mnist.toml", *FAST, "train.steps_per_call=8", "train.log_every_n_steps=8",
        "train.max_steps=80", "checkpoint.save_every_n_steps=0", override, "--runs-dir", str(runs_dir),
    )  # fmt: skip
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and f"train.steps_per_call=8: {field} must be a multiple" in proc.stderr


def test_grad_accum_that_does_not_divide_the_batch_is_refused(runs_dir):
    proc = run_engine("run", "tasks/mnist.toml", *FAST, "train.grad_accum_steps=3", "--runs-dir", str(runs_dir))
    assert proc.returncode == 2
    assert "train.grad_accum_steps=3 must be >= 1 and divide data.batch_size=128" in proc.stderr


def test_sigterm_with_steps_per_call_stops_at_a_call_boundary_and_resumes(runs_dir):
    args = [*FAST, "train.steps_per_call=8", "train.log_every_n_steps=8", "checkpoint.save_every_n_steps=0"]
    cmd = [str(BIN / "xaxengine"), "run", "tasks/mnist.toml", *args, "train.max_steps=80000"]
    cmd += ["--runs-dir", str(runs_dir), "--run-id", "t"]
    proc = subprocess.Popen(cmd, cwd=REPO, env=engine_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    run_dir = runs_dir / "mnist" / "t"
    from tests.xaxengine.task.mixins.test_checkpointing import wait_for_step

    wait_for_step(run_dir, 40, proc)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 143
    evs = list(read_events(run_dir / "events.jsonl"))
    final = [e for e in evs if e["kind"] == "status"][-1]
    stopped = final["step"]
    assert final["state"] == "interrupted" and stopped >= 40 and stopped % 8 == 0
    assert [e for e in evs if e["kind"] == "checkpoint"][-1]["step"] == stopped
    assert max(e["step"] for e in evs if e["kind"] == "scalars") == stopped
    resumed = run_engine("resume", str(run_dir), f"train.max_steps={stopped + 16}")
    assert resumed.returncode == 0, resumed.stderr
    later = list(read_events(run_dir / "events.jsonl"))[len(evs) :]
    after = [e["step"] for e in later if e["kind"] == "scalars" and e["phase"] == "train"]
    assert after == [stopped + 8, stopped + 16]
