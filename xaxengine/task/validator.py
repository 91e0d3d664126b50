"""Validation: the validation set run through a lazily compiled, accumulating eval step; the means are logged."""

import time
from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import PyTree

from xaxengine.task.mixins.dataloaders import Columns
from xaxengine.task.mixins.supervised import accumulating_eval_step, summarize, zero_sums

if TYPE_CHECKING:
    from xaxengine.task.task import SupervisedTask


class Validator:
    """Runs the validation set through a lazily compiled eval step and logs the means."""

    def __init__(self, task: "SupervisedTask[Any]", static: PyTree, columns: Columns, size: int) -> None:
        self.task, self.static, self.columns = task, static, columns
        self.batches = task.valid_index_batches(size)
        self.step_fn: Any = None
        self.key = task.placement.replicate(jax.random.PRNGKey(task.config.train.seed + 1))

    def host_batch(self) -> dict[str, np.ndarray]:
        """The first validation batch on the host, for ``log_heavy``."""
        return {k: np.asarray(v[self.batches[0]]) for k, v in self.columns.items()}

    def run(self, params: PyTree, step: int) -> None:
        """Evaluates ``params`` on the validation batches and logs the means as ``valid`` scalars at ``step``."""
        on_device = isinstance(next(iter(self.columns.values())), jax.Array)
        update = self.task.make_eval_update(self.static)
        placement = self.task.placement
        step_array = placement.replicate(jnp.asarray(step, jnp.int32))
        data = placement.step_data(self.columns, self.batches[0], on_device)
        if self.step_fn is None:
            names = list(jax.eval_shape(update, params, *data, self.key, step_array)[0])
            self.names = names
            sums = placement.replicate(zero_sums(names))
            args = (params, sums, *data, self.key, step_array)
            eval_step = placement.constrain(accumulating_eval_step(update), placement.state_shardings(sums))
            self.step_fn, _ = self.task.compile_and_report("eval_step", eval_step, args)
        sums = placement.replicate(zero_sums(self.names))
        for i, idx in enumerate(self.batches):
            key = placement.replicate(jax.random.fold_in(self.key, i))
            sums = self.step_fn(params, sums, *placement.step_data(self.columns, idx, on_device), key, step_array)
        means, _, _ = summarize(jax.device_get(sums))
        self.task.log_scalars(step, "valid", means, elapsed_s=time.monotonic() - self.task.started)
