import jax.numpy as jnp
import numpy as np

from tests.conftest import run_engine
from xaxengine.protocol import read_events
from xaxengine.task.mixins.supervised import GRAD_NORM, GRAD_NORM_MEASURED, accumulate, summarize, zero_sums


def _run(steps):
    sums = zero_sums(["loss", GRAD_NORM, GRAD_NORM_MEASURED])
    for step, (loss, norm, measured) in enumerate(steps):
        metrics = {"loss": jnp.float32(loss), GRAD_NORM: jnp.float32(norm), GRAD_NORM_MEASURED: jnp.bool_(measured)}
        sums = accumulate(sums, metrics, jnp.isfinite(jnp.float32(loss)), jnp.int32(step))
    return summarize({k: np.asarray(v) for k, v in sums.items()})


def test_loss_is_averaged_over_finite_steps_and_grad_norm_over_measured_ones():
    means, nonfinite, first_bad = _run(
        [(1.0, 0.0, False), (3.0, 0.0, False), (float("nan"), 0.0, False), (2.0, 8.0, True)]
    )
    assert means["loss"] == 2.0 and means[GRAD_NORM] == 8.0
    assert nonfinite == 1 and first_bad == 2
    assert not any(k.startswith("_") for k in means)


def test_grad_norm_is_omitted_when_no_step_measured_it():
    means, nonfinite, first_bad = _run([(1.0, 0.0, False), (2.0, 0.0, False)])
    assert GRAD_NORM not in means and means["loss"] == 1.5 and nonfinite == 0 and first_bad == -1


def test_zero_sums_keeps_the_accumulator_structure():
    sums = zero_sums(["loss", GRAD_NORM, GRAD_NORM_MEASURED])
    assert set(zero_sums(list(sums))) == set(sums)


def test_non_scalar_metric_is_logged_as_a_histogram(tmp_path):
    toml = tmp_path / "hist.toml"
    toml.write_text('task = "tests.fixtures.tasks.histogram_task:HistogramMetricTask"\nhidden = 32\n')
    overrides = ["train.max_steps=20", "train.log_every_n_steps=10", "train.valid_every_n_steps=10"]
    overrides += ["logger.tensorboard=false", "stats.enabled=false", "checkpoint.save_every_n_steps=0"]
    proc = run_engine("run", str(toml), *overrides, "--runs-dir", str(tmp_path / "runs"), "--run-id", "h")
    assert proc.returncode == 0, proc.stderr
    evs = list(read_events(next((tmp_path / "runs").glob("*/h/events.jsonl"))))
    hists = [e for e in evs if e["kind"] == "histogram" and e["name"] == "train/logit_means"]
    assert [e["step"] for e in hists] == [10, 20]
    train = [e for e in evs if e["kind"] == "scalars" and e["phase"] == "train"]
    assert "accuracy" in train[-1]["values"] and "logit_means" not in train[-1]["values"]
