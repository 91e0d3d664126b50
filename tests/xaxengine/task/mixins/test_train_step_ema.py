"""train.ema_decay through the real CLI: the EMA is in the checkpoint, resumes bitwise, and can be validated."""

from pathlib import Path

import jax
import numpy as np
import orbax.checkpoint as ocp

from tests.conftest import run_engine
from xaxengine.protocol import read_events

FAST = [
    "hidden=32",
    "logger.progress=off",
    "logger.tensorboard=false",
    "stats.enabled=false",
    "train.log_every_n_steps=1",
    "checkpoint.save_every_n_steps=20",
    "train.ema_decay=0.9",
]


def run(runs: Path, run_id: str, *args: str) -> Path:
    proc = run_engine("run", "tasks/mnist.toml", *FAST, *args, "--runs-dir", str(runs), "--run-id", run_id)
    assert proc.returncode == 0, proc.stderr
    return runs / "mnist" / run_id


def state_at(run_dir: Path, step: int) -> dict:
    with ocp.CheckpointManager((run_dir / "checkpoints").resolve(), options=ocp.CheckpointManagerOptions()) as m:
        return m.restore(step, args=ocp.args.Composite(state=ocp.args.StandardRestore()))["state"]


def leaves(tree: object) -> list[np.ndarray]:
    return [np.asarray(x) for x in jax.tree.leaves(tree)]


def scalars(run_dir: Path, phase: str) -> dict[int, dict[str, float]]:
    evs = read_events(run_dir / "events.jsonl")
    return {e["step"]: e["values"] for e in evs if e["kind"] == "scalars" and e["phase"] == phase}


def test_ema_is_checkpointed_and_resume_is_bitwise(runs_dir):
    whole = run(runs_dir, "whole", "train.max_steps=40", "train.valid_every_n_steps=0")
    part = run(runs_dir, "part", "train.max_steps=20", "train.valid_every_n_steps=0")
    resumed = run_engine("resume", str(part), "train.max_steps=40")
    assert resumed.returncode == 0, resumed.stderr
    expected, got = state_at(whole, 40), state_at(part, 40)
    for name in ("ema", "params", "opt_state"):
        for a, b in zip(leaves(expected[name]), leaves(got[name]), strict=True):
            np.testing.assert_array_equal(a, b)  # bitwise
    assert {str(x.dtype) for x in leaves(got["ema"])} == {"float32"}
    moved = [np.abs(e - p).max() for e, p in zip(leaves(got["ema"]), leaves(got["params"]), strict=True)]
    assert max(moved) > 1e-4  # a real average, not a copy of the weights
    assert {s: v["loss"] for s, v in scalars(part, "train").items()} == {
        s: v["loss"] for s, v in scalars(whole, "train").items()
    }


def test_eval_with_ema_validates_the_average(runs_dir):
    args = ["train.max_steps=20", "train.valid_every_n_steps=20"]
    plain = scalars(run(runs_dir, "plain", *args), "valid")[20]["loss"]
    averaged = scalars(run(runs_dir, "avg", *args, "train.eval_with_ema=true"), "valid")[20]["loss"]
    assert plain != averaged


def test_eval_with_ema_without_a_decay_is_refused(runs_dir):
    proc = run_engine("run", "tasks/mnist.toml", "train.ema_decay=0", "train.eval_with_ema=true")
    assert proc.returncode == 2 and "train.eval_with_ema = true needs train.ema_decay > 0" in proc.stderr
