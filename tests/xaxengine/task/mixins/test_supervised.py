import jax.numpy as jnp
import numpy as np

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
