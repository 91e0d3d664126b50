"""Validation: the validation set run through a lazily compiled, accumulating eval step; the means are logged."""

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import PyTree

from xaxengine.task.mixins.custom_step import CustomStepMixin
from xaxengine.task.mixins.dataloaders import Columns
from xaxengine.task.mixins.sharding import Placement
from xaxengine.task.mixins.supervised import SupervisedMixin, accumulating_eval_step, summarize, zero_sums

CompileFn = Callable[[str, Any, tuple[Any, ...]], Any]


class Validator:
    """Runs the validation set through a lazily compiled eval step and logs the means."""

    def __init__(
        self,
        task: SupervisedMixin[Any] | CustomStepMixin[Any],
        placement: Placement,
        compile_step: CompileFn,
        static: PyTree,
        columns: Columns,
        size: int,
    ) -> None:
        """Prepares the batches; the eval step is compiled at the first :meth:`run`.

        Args:
            task: The task (its eval update, batches and config).
            placement: Where arrays live.
            compile_step: ``compile_step(name, fn, args) -> step_fn`` (compiles and reports the compile event).
            static: The model's static part.
            columns: The validation columns.
            size: Their length.
        """
        self.task, self.placement, self.compile_step = task, placement, compile_step
        self.static, self.columns = static, columns
        self.batches = task.valid_index_batches(size)
        self.step_fn: Any = None
        self.key = placement.replicate(jax.random.PRNGKey(task.config.train.seed + 1))

    def host_batch(self) -> dict[str, np.ndarray]:
        """The first validation batch on the host, for ``log_heavy``."""
        return {k: np.asarray(v[self.batches[0]]) for k, v in self.columns.items()}

    def run(self, params: PyTree, step: int) -> dict[str, float]:
        """Evaluates ``params`` on the validation batches; returns the means (the trainer logs them)."""
        on_device = isinstance(next(iter(self.columns.values())), jax.Array)
        update = self.task.make_eval_update(self.static)
        placement = self.placement
        step_array = placement.replicate(jnp.asarray(step, jnp.int32))
        data = placement.step_data(self.columns, self.batches[0], on_device)
        if self.step_fn is None:
            names = {
                name: s.shape for name, s in jax.eval_shape(update, params, *data, self.key, step_array)[0].items()
            }
            self.names = names
            sums = placement.replicate(zero_sums(names))
            args = (params, sums, *data, self.key, step_array)
            eval_step = placement.constrain(accumulating_eval_step(update), placement.state_shardings(sums))
            self.step_fn = self.compile_step("eval_step", eval_step, args)
        sums = placement.replicate(zero_sums(self.names))
        for i, idx in enumerate(self.batches):
            key = placement.replicate(jax.random.fold_in(self.key, i))
            sums = self.step_fn(params, sums, *placement.step_data(self.columns, idx, on_device), key, step_array)
        means, _, _ = summarize(jax.device_get(sums))
        return means
