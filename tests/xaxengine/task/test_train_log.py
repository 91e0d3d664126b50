"""The train log's transfers: the sums fetched in one array, fresh zeros from one call, the loop state rebuilt."""

import json

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from tests.conftest import run_engine
from xaxengine.protocol import read_events
from xaxengine.task.mixins.sharding import MeshPlacement, Placement
from xaxengine.task.mixins.supervised import COUNT, FIRST_BAD_STEP, NONFINITE, summarize, zero_sums
from xaxengine.task.mixins.train import TrainState
from xaxengine.task.run_context import LoopState
from xaxengine.task.train_log import SumsTransfer


def _sums() -> dict[str, jax.Array]:
    return {
        "loss": jnp.float32(6.5),
        "accuracy": jnp.float32(2.25),
        "logits": jnp.arange(6, dtype=jnp.float32).reshape(2, 3),  # non-scalar: the latest value, for a histogram
        COUNT: jnp.float32(4),
        NONFINITE: jnp.float32(1),
        FIRST_BAD_STEP: jnp.float32(17),
    }


@pytest.mark.parametrize("placement", [Placement(), MeshPlacement("multi_device", jax.devices()[:1])])
def test_sending_gives_what_device_get_gives_and_fresh_gives_zeros_of_the_same_shapes(placement: Placement):
    transfer = SumsTransfer(placement)
    sums = _sums()
    fetched = transfer.send(sums).receive()
    expected = jax.device_get(sums)
    assert set(fetched) == set(expected)
    for name, value in expected.items():
        np.testing.assert_array_equal(fetched[name], value)
        assert np.shape(fetched[name]) == np.shape(value)
    assert summarize(fetched) == summarize(expected)
    fresh = transfer.fresh(fetched)
    zeros = zero_sums({name: np.shape(value) for name, value in fetched.items()})
    assert set(fresh) == set(zeros)
    for name, value in zeros.items():
        np.testing.assert_array_equal(np.asarray(fresh[name]), value)
        assert fresh[name].dtype == value.dtype == np.float32


def test_fresh_zeros_are_new_buffers_every_call_so_the_step_may_donate_them():
    transfer = SumsTransfer(Placement())
    fetched = transfer.send(_sums()).receive()
    first = transfer.fresh(fetched)
    add = jax.jit(lambda sums: jax.tree.map(lambda x: x + 1, sums), donate_argnums=0)
    bumped = add(first)  # donates (deletes) the first zeros
    second = transfer.fresh(fetched)
    assert float(second["loss"]) == 0.0 and float(bumped["loss"]) == 1.0


def test_sending_follows_a_change_in_the_metric_names():
    transfer = SumsTransfer(Placement())
    assert set(transfer.send(_sums()).receive()) == set(_sums())
    fewer = {name: value for name, value in _sums().items() if name != "accuracy"}
    assert set(transfer.send(fewer).receive()) == set(fewer)


def test_with_sums_swaps_only_the_sums():
    params = {"w": jnp.ones((2, 2)), "b": jnp.zeros(2)}
    train = TrainState(step=jnp.int32(3), params=params, opt_state=(jnp.ones(1),), key=jax.random.PRNGKey(0), ema=None)
    loop = LoopState(train=train, sums=_sums(), static="static part", optimizer="optimizer")
    fresh = {name: jnp.full(np.shape(value), 9.0) for name, value in _sums().items()}
    swapped = loop.with_sums(fresh)
    assert swapped.static == "static part" and swapped.optimizer == "optimizer"
    assert eqx.tree_equal(swapped.train, loop.train)
    assert eqx.tree_equal(swapped.sums, fresh)
    assert jax.tree.structure(swapped) == jax.tree.structure(loop)


def _train_losses(tmp_path, run_id: str, log_every: int) -> dict[int, float]:
    overrides = ["hidden=32", "train.max_steps=24", f"train.log_every_n_steps={log_every}"]
    overrides += ["train.valid_every_n_steps=0", "logger.tensorboard=false", "stats.enabled=false"]
    overrides += ["checkpoint.save_every_n_steps=0", "--runs-dir", str(tmp_path / "runs"), "--run-id", run_id]
    proc = run_engine("run", "tasks/mnist.toml", *overrides)
    assert proc.returncode == 0, proc.stderr[-2000:]
    events = list(read_events(next((tmp_path / "runs").glob(f"*/{run_id}/events.jsonl"))))
    train = [e for e in events if e["kind"] == "scalars" and e["phase"] == "train"]
    return {e["step"]: e["values"]["loss"] for e in train}


def test_a_log_written_after_the_next_dispatch_still_averages_exactly_its_own_window(tmp_path):
    """Every log but the last is written a step late (the window ends on time): each mean must cover its window."""
    per_step = _train_losses(tmp_path, "every", 1)
    windows = _train_losses(tmp_path, "by6", 6)
    assert sorted(per_step) == list(range(1, 25)) and sorted(windows) == [6, 12, 18, 24]
    for end, mean in windows.items():
        assert mean == pytest.approx(np.mean([per_step[s] for s in range(end - 5, end + 1)]), rel=1e-5)


def test_the_loop_compiles_nothing_after_its_first_step(tmp_path):
    """The train log's two transfers compile before the run is ``running``, not inside the first window's rate."""
    toml = tmp_path / "counting.toml"
    toml.write_text('task = "tests.fixtures.tasks.shape_tasks:CompileCountingTask"\n')
    proc = run_engine(
        "run", str(toml), "train.max_steps=30", "train.log_every_n_steps=5", "train.valid_every_n_steps=0",
        "checkpoint.save_every_n_steps=0", "--runs-dir", str(tmp_path), "--run-id", "counting",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    lines = (tmp_path / "compile_counting/counting/artifacts/compiles.jsonl").read_text().splitlines()
    after_first, at_end = [json.loads(line) for line in lines]
    assert (after_first["step"], at_end["step"]) == (1, 30)
    assert at_end["compiles"] == after_first["compiles"]  # counted from the task's get_hooks, after the compiles
