"""The digits task with a non-scalar metric: the per-class logit means (shape (10,))."""

import equinox as eqx
from jaxtyping import Array, Float

import xaxengine as xax
from tasks.mnist import Batch, MnistTask


class HistogramMetricTask(MnistTask):
    """Adds ``logit_means``, a vector metric the engine logs as a histogram."""

    def compute_metrics(
        self, model: eqx.Module, batch: Batch, output: Float[Array, "batch 10"], loss: Array, state: xax.StepState
    ) -> dict[str, Array]:
        return {**super().compute_metrics(model, batch, output, loss, state), "logit_means": output.mean(axis=0)}
