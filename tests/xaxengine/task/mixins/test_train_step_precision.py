"""train.precision through the real CLI: bf16 compute trains the digits to the fp32 accuracy with fp32 weights."""

from pathlib import Path

import jax
import numpy as np
import orbax.checkpoint as ocp

from tests.conftest import run_engine
from xaxengine.protocol import read_events

FAST = ["train.valid_every_n_steps=0", "logger.progress=off", "logger.tensorboard=false", "stats.enabled=false"]


def run(runs: Path, run_id: str, *args: str) -> Path:
    proc = run_engine("run", "tasks/mnist.toml", *FAST, *args, "--runs-dir", str(runs), "--run-id", run_id)
    assert proc.returncode == 0, proc.stderr
    return runs / "mnist" / run_id


def checkpoint_dtypes(run_dir: Path, step: int) -> set[str]:
    with ocp.CheckpointManager((run_dir / "checkpoints").resolve(), options=ocp.CheckpointManagerOptions()) as m:
        state = m.restore(step, args=ocp.args.Composite(state=ocp.args.StandardRestore()))["state"]
    return {str(np.asarray(x).dtype) for x in jax.tree.leaves((state["params"], state["opt_state"]))}


def compile_event(run_dir: Path) -> dict:
    return next(e for e in read_events(run_dir / "events.jsonl") if e["kind"] == "compile")


def test_bf16_reaches_097_valid_accuracy_with_fp32_weights(runs_dir):
    run_dir = run(
        runs_dir, "bf16", "hidden=128", "train.max_steps=600", "train.valid_every_n_steps=600",
        "checkpoint.save_every_n_steps=600", "train.precision=bf16",
    )  # fmt: skip
    valid = [e for e in read_events(run_dir / "events.jsonl") if e["kind"] == "scalars" and e["phase"] == "valid"]
    assert valid[-1]["step"] == 600 and valid[-1]["values"]["accuracy"] >= 0.97
    assert checkpoint_dtypes(run_dir, 600) <= {"float32", "int32"}
    policy = compile_event(run_dir)["dtype_policy"]
    assert policy == {"precision": "bf16", "compute": "bfloat16", "params": "float32", "loss": "float32"}


def test_bf16_params_stores_weights_and_optimizer_state_in_bf16(runs_dir):
    run_dir = run(
        runs_dir,
        "b",
        "hidden=32",
        "train.max_steps=16",
        "checkpoint.save_every_n_steps=16",
        "train.precision=bf16_params",
    )
    assert "bfloat16" in checkpoint_dtypes(run_dir, 16) and "float32" not in checkpoint_dtypes(run_dir, 16)
    assert compile_event(run_dir)["dtype_policy"]["params"] == "bfloat16"
