"""A digits task that records, from the device, which step is executing: the stop-latency tests' clock."""

from dataclasses import dataclass

import jax
from jaxtyping import Array, Float

import xaxengine as xax
from tasks.mnist import MnistConfig, MnistTask


@dataclass(kw_only=True)
class StopConfig(MnistConfig):
    progress_file: str = xax.field("", help="Each train step appends its step number here when it executes.")


def _record(path: str, step: Array) -> None:
    with open(path, "a") as f:
        f.write(f"{int(step)}\n")


class StopTask(MnistTask, xax.SupervisedTask[StopConfig]):
    """MnistTask whose train loss reports the executing step through a host callback."""

    def compute_loss(self, model, batch, output, state, key) -> Float[Array, ""]:
        loss = super().compute_loss(model, batch, output, state, key)
        if state.phase == "train" and self.config.progress_file:
            jax.debug.callback(_record, self.config.progress_file, state.step)
        return loss
