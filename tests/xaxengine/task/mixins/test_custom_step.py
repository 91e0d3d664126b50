"""Custom train steps: a Task with its own train_step (the GAN example) through the real CLI, and its refusals."""

import textwrap
from pathlib import Path

import numpy as np
import orbax.checkpoint as ocp
import pytest

from tests.conftest import run_engine
from xaxengine.config.build import check_task_class
from xaxengine.config.fields import ConfigError
from xaxengine.protocol import read_events

FAST = ["logger.progress=off", "logger.tensorboard=false", "stats.enabled=false"]


def run(runs: Path, run_id: str, *args: str) -> Path:
    proc = run_engine("run", "tasks/gan.toml", *FAST, *args, "--runs-dir", str(runs), "--run-id", run_id)
    assert proc.returncode == 0, proc.stderr
    return runs / "gan" / run_id


def values(run_dir: Path, phase: str) -> dict[int, dict[str, float]]:
    events = read_events(run_dir / "events.jsonl")
    return {e["step"]: e["values"] for e in events if e["kind"] == "scalars" and e["phase"] == phase}


def test_the_gan_trains_both_models_and_checkpoints_them_by_name(runs_dir):
    run_dir = run(runs_dir, "gan", "train.max_steps=1500", "train.valid_every_n_steps=500")
    valid = values(run_dir, "valid")
    assert sorted(valid) == [500, 1000, 1500]
    assert valid[500]["quality"] < 0.2  # the generator starts far from the ring...
    assert valid[1500]["quality"] > 0.5 and valid[1500]["modes"] >= 6  # ...and learns it, without collapsing
    train = values(run_dir, "train")
    assert {"disc_loss", "gen_loss"} <= set(train[1500])
    status = [e for e in read_events(run_dir / "events.jsonl") if e["kind"] == "status"][-1]
    assert status["state"] == "finished" and status["step"] == 1500
    with ocp.CheckpointManager((run_dir / "checkpoints").resolve(), options=ocp.CheckpointManagerOptions()) as m:
        state = m.restore(1500, args=ocp.args.Composite(state=ocp.args.StandardRestore()))["state"]
    assert set(state["params"]) == {"discriminator", "generator"}
    assert set(state["opt_state"]) == {"discriminator", "generator"}  # one Adam state per model
    assert int(state["step"]) == 1500


def test_a_custom_step_resumes_exactly_and_runs_several_steps_per_call(runs_dir):
    common = ["train.log_every_n_steps=20", "train.valid_every_n_steps=0", "checkpoint.save_every_n_steps=60"]
    whole = run(runs_dir, "whole", *common, "train.max_steps=120")
    first = run(runs_dir, "first", *common, "train.max_steps=60")
    resumed = run_engine("resume", str(first), "train.max_steps=120")
    assert resumed.returncode == 0, resumed.stderr
    four = run(runs_dir, "four", *common, "train.max_steps=120", "train.steps_per_call=4")
    expected = values(whole, "train")
    for other in (first, four):
        got = values(other, "train")
        assert sorted(got) == sorted(expected) == list(range(20, 121, 20))
        for step, means in expected.items():
            np.testing.assert_allclose(got[step]["gen_loss"], means["gen_loss"], rtol=0, atol=1e-6)
            np.testing.assert_allclose(got[step]["disc_loss"], means["disc_loss"], rtol=0, atol=1e-6)


def test_a_custom_step_refuses_gradient_accumulation_in_one_line(runs_dir):
    proc = run_engine(
        "run", "tasks/gan.toml", *FAST, "train.max_steps=20", "train.grad_accum_steps=4", "--runs-dir", str(runs_dir)
    )
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    assert "writes its own train_step, so train.grad_accum_steps=4" in proc.stderr


def _task_module(tmp_path: Path, body: str) -> object:
    import importlib.util

    path = tmp_path / "custom_tasks.py"
    path.write_text(textwrap.dedent(body))
    spec = importlib.util.spec_from_file_location("custom_tasks", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_task_without_a_step_and_a_supervised_task_with_one_are_refused(tmp_path):
    module = _task_module(
        tmp_path,
        """
        import xaxengine as xax

        class NoLoop(xax.Task[xax.Config]):
            def get_model(self, params): ...
            def get_dataset(self, phase): ...

        class Both(xax.SupervisedTask[xax.SupervisedConfig]):
            def get_model(self, params): ...
            def get_dataset(self, phase): ...
            def get_output(self, model, batch, state, key): ...
            def compute_loss(self, model, batch, output, state, key): ...
            def train_step(self, state, batch, key): ...
        """,
    )
    with pytest.raises(ConfigError, match=r"NoLoop has no training loop: write train_step\(self, state, batch, key\)"):
        check_task_class(module.NoLoop, "custom_tasks:NoLoop")  # ty: ignore[unresolved-attribute]
    with pytest.raises(ConfigError, match=r"its train_step would never run; subclass xax\.Task"):
        check_task_class(module.Both, "custom_tasks:Both")  # ty: ignore[unresolved-attribute]


def test_apply_gradients_names_the_models_when_the_name_is_wrong():
    import equinox as eqx
    import jax
    import jax.numpy as jnp
    import optax

    import xaxengine as xax

    models = {"a": eqx.nn.Linear(2, 2, key=jax.random.PRNGKey(0))}
    opt = optax.sgd(0.1)
    state = xax.ModelsState(
        jnp.zeros((), jnp.int32), models, {"a": opt.init(eqx.filter(models["a"], eqx.is_array))}, opt
    )
    grads = jax.tree.map(jnp.ones_like, eqx.filter(models["a"], eqx.is_array))
    moved = state.apply_gradients(grads, "a")
    np.testing.assert_allclose(moved.models["a"].weight, models["a"].weight - 0.1)
    with pytest.raises(KeyError, match="the models are named a"):
        state.apply_gradients(grads, "b")
    with pytest.raises(KeyError, match="the models are named a"):
        state.apply_gradients(grads)
