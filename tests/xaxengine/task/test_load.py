"""``xax.load_ckpt`` and ``xax.load_task`` on a real run trained by the CLI, loaded in this process on CPU."""

from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp
import pytest

import xaxengine as xax
from tests.conftest import run_engine
from xaxengine.runs import RunError

FAST = ["hidden=32", "logger.progress=off", "logger.tensorboard=false", "stats.enabled=false"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    runs = tmp_path_factory.mktemp("runs")
    proc = run_engine(
        "run", "tasks/mnist.toml", *FAST, "train.max_steps=20", "train.log_every_n_steps=10",
        "train.valid_every_n_steps=10", "checkpoint.save_every_n_steps=10", "checkpoint.keep_best=valid/accuracy",
        "--runs-dir", str(runs), "--run-id", "l",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return runs / "mnist" / "l"


def raw_params(step_dir: Path) -> list[np.ndarray]:
    state = ocp.StandardCheckpointer().restore(step_dir.resolve() / "state")
    return [np.asarray(x) for x in jax.tree.leaves(state["params"])]


def test_load_task_gives_the_recorded_task_and_config(run_dir):
    task = xax.load_task(run_dir)
    assert type(task).__name__ == "MnistTask" and type(task).__module__ == "tasks.mnist"
    assert task.config.hidden == 32 and task.config.train.max_steps == 20
    assert task.run_dir == run_dir.resolve()


def test_load_ckpt_model_is_the_trained_model(run_dir):
    model = xax.load_ckpt(run_dir, part="model")
    leaves = [np.asarray(x) for x in jax.tree.leaves(eqx.filter(model, eqx.is_inexact_array))]
    expected = raw_params(run_dir / "checkpoints" / "20")
    assert sorted(a.tobytes() for a in leaves) == sorted(b.tobytes() for b in expected)  # Orbax's dicts sort keys
    fresh, _, _ = xax.load_task(run_dir).init_state()
    assert not np.array_equal(leaves[0], np.asarray(jax.tree.leaves(fresh.params)[0]))  # trained, not initialised
    logits = jax.vmap(model)(jnp.zeros((3, 64)))
    assert logits.shape == (3, 10)


def test_load_ckpt_opt_state_config_and_step_folders(run_dir):
    opt_state = xax.load_ckpt(run_dir, part="opt_state")
    counts = [int(x) for x in jax.tree.leaves(opt_state) if np.ndim(x) == 0 and np.issubdtype(x.dtype, np.integer)]
    assert counts and set(counts) == {20}  # adamw's step counters
    config = xax.load_ckpt(run_dir / "checkpoints" / "10", part="config")
    assert config.hidden == 32 and config.checkpoint.keep_best == "valid/accuracy"
    early = xax.load_ckpt(run_dir / "checkpoints" / "10", part="state")
    assert int(early.step) == 10
    best = xax.load_ckpt(run_dir / "best_checkpoint", part="state")
    assert int(best.step) in (10, 20)


def test_load_ckpt_bad_input(run_dir, tmp_path):
    with pytest.raises(RunError, match="not a run directory nor a checkpoint folder"):
        xax.load_ckpt(tmp_path)
    with pytest.raises(ValueError, match="part must be one of"):
        xax.load_ckpt(run_dir, part="weights")  # ty: ignore[invalid-argument-type]
    with pytest.raises(ValueError, match="no EMA weights"):
        xax.load_ckpt(run_dir, part="ema")
