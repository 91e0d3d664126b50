"""A digits task that misbehaves on demand: NaN loss from a step on, or an exception in compute_loss."""

from dataclasses import dataclass

import jax.numpy as jnp
from jaxtyping import Array, Float

from tasks.mnist import MnistConfig, MnistTask
from xaxengine.config import field


@dataclass(kw_only=True)
class FaultyConfig(MnistConfig):
    nan_from_step: int = field(-1, help="Training loss becomes NaN from this (0-based) step on; -1 never.")
    raise_in_loss: bool = field(False, help="Raise ValueError('boom') in compute_loss.")


class FaultyTask(MnistTask):
    config_class = FaultyConfig

    def compute_loss(self, model, batch, output, state, key) -> Float[Array, ""]:
        if self.config.raise_in_loss:
            raise ValueError("boom")
        loss = super().compute_loss(model, batch, output, state, key)
        if self.config.nan_from_step >= 0 and state.phase == "train":
            loss = jnp.where(state.step >= self.config.nan_from_step, jnp.nan, loss)
        return loss
